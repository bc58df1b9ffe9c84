"""validate: ha.events.raw -> ha.events.valid; events failing the checks go to the DLQ with reasons."""

from __future__ import annotations

from typing import Any

from ingestor import stage, subjects, validation

RULES = validation.ValidationRules.from_env()


def _check(event: Any) -> tuple[Any, str | None]:
    reason = validation.validate_event(event, RULES)
    return (None, reason) if reason else (event, None)


PUBLISH = stage.publisher(subjects.VALID)


def handle(event: Any, context: Any) -> dict[str, Any]:
    return stage.run(event, "validate", subjects.RAW, PUBLISH, _check, max_depth=RULES.max_depth)


health = stage.health
