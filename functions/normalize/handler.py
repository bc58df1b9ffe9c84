"""normalize: ha.events.valid -> ha.events.normalized, one event record (docs/design.md) per HA event.

Each record is joined with where its entity lives (device, area, manufacturer, model) from the
metadata DB that metadata-sync keeps.
"""

from __future__ import annotations

import functools
from typing import Any

from ingestor import metadata, normalization, stage, subjects
from ingestor.metadata.directory import Directory
from ingestor.metadata.registry import MetadataDB


@functools.cache
def directory() -> Directory:
    return Directory(MetadataDB(metadata.default_url()))


def _record(event: Any) -> tuple[Any, str | None]:
    try:
        return directory().place(normalization.normalize_event(event)), None
    except normalization.NormalizationError as exc:
        return None, str(exc)


PUBLISH = stage.publisher(subjects.NORMALIZED)


def handle(event: Any, context: Any) -> dict[str, Any]:
    return stage.run(event, "normalize", subjects.VALID, PUBLISH, _record)


health = stage.health
