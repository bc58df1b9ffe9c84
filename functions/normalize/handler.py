"""normalize: ha.events.valid -> ha.events.normalized, one DESIGN.md event record per HA event."""

from __future__ import annotations

from typing import Any

from ingestor import normalization, stage


def _record(event: Any) -> tuple[Any, str | None]:
    try:
        return normalization.normalize_event(event), None
    except normalization.NormalizationError as exc:
        return None, str(exc)


def handle(event: Any, context: Any) -> dict[str, Any]:
    return stage.run(event.body, "normalize", "ha.events.valid", "ha.events.normalized", _record)


health = stage.health
