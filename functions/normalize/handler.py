"""normalize: ha.events.valid -> ha.events.normalized, one event record (ingestor.record) per HA event.

Each record is joined with where its entity lives (device, area, manufacturer, model) from the
metadata DB that metadata-sync keeps.
"""

from __future__ import annotations

from ingestor import metadata, subjects
from ingestor.normalization import normalize_event
from ingestor.stage import Stage

STAGE = Stage("normalize", subjects.VALID, lambda event: metadata.shared_directory().place(normalize_event(event)),
              target=subjects.NORMALIZED)
handle, health = STAGE.handle, STAGE.health
