"""metadata-sync: keeps the metadata DB (areas, devices, entities, HA config) in step with ha.registry."""

from __future__ import annotations

from ingestor import metadata, subjects
from ingestor.metadata import registry
from ingestor.stage import Stage

STAGE = Stage("metadata-sync", subjects.REGISTRY, registry.check,
              deliver=lambda batch_id, parts: metadata.shared().apply(parts),
              health=lambda: metadata.shared().health())
handle, health = STAGE.handle, STAGE.health
