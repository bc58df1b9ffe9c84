"""normalize: ha.events.valid -> ha.events.normalized, the event records (ingestor.record) of each HA event.

One record per event, except a service call on several entities: one record per entity (ingestor.normalization).
Each record is joined with where its entity lives (device, area, manufacturer, model) from the metadata DB that
metadata-sync keeps.
"""

from __future__ import annotations

from typing import Any

from ingestor import metadata, subjects
from ingestor.normalization import normalize
from ingestor.stage import Stage


def _records(event: Any) -> list[dict[str, Any]]:
    """The event's records, each placed (device, area) by the metadata DB."""
    return [metadata.shared_directory().place(one) for one in normalize(event)]


STAGE = Stage("normalize", subjects.VALID, _records, target=subjects.NORMALIZED,
              amend=lambda per_event: [one for records in per_event for one in records])
handle, health = STAGE.handle, STAGE.health
