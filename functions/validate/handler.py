"""validate: ha.events.raw -> ha.events.valid; events failing the checks (depth first, VALIDATE_MAX_DEPTH) go to the
DLQ with reasons."""

from __future__ import annotations

from ingestor import subjects, validation
from ingestor.stage import Stage

RULES = validation.load_rules()
STAGE = Stage("validate", subjects.RAW, validation.checker(RULES), target=subjects.VALID, max_depth=None)
handle, health = STAGE.handle, STAGE.health
