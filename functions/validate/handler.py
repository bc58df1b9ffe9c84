"""validate: ha.events.raw -> ha.events.valid; events failing the checks (depth first, VALIDATE_MAX_DEPTH) go to the
DLQ with reasons."""

from __future__ import annotations

from ingestor import subjects, validation
from ingestor.stage import Stage

RULES = validation.load_rules()
# The stage bounds depth at VALIDATE_MAX_DEPTH for the whole batch in one encoding (each event asked alone only
# when the batch is too deep), so the check encodes each sound event once, plainly.
STAGE = Stage("validate", subjects.RAW, validation.checker(RULES, depth_bounded=True), target=subjects.VALID,
              max_depth=RULES.max_depth)
handle, health = STAGE.handle, STAGE.health
