"""Where each entity lives (device, area, manufacturer, model), for normalize to join into events.

Loaded whole from the metadata DB and refreshed every METADATA_REFRESH_S seconds, so the hot path
makes no query per event; an entity it does not know yet (a new one, or the first events before the
registry snapshot was applied) reloads it sooner, at most every METADATA_MISS_RELOAD_S seconds.
An entity without its own area takes its device's (HA does the same).
If the DB cannot be read, the last good copy is kept and the failure counted.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from ingestor import metrics, settings
from ingestor.metadata.registry import MetadataDB
from ingestor.metadata.schema import devices, entities
from ingestor.settings import setting

log = logging.getLogger(__name__)
_refresh_failures = metrics.counter("metadata_refresh_failures_total", "Failed reloads of the entity directory")


class Placement(NamedTuple):
    device_id: str | None
    area_id: str | None
    device_manufacturer: str | None
    device_model: str | None


@dataclass(frozen=True)
class Refresh:
    ttl_s: float = setting("METADATA_REFRESH_S", 30.0)
    """How old the directory may be before it is read again."""
    miss_reload_s: float = setting("METADATA_MISS_RELOAD_S", 1.0)
    """An entity it does not know reloads it sooner, but not more often than this."""


class Directory:
    def __init__(self, db: MetadataDB, ttl_s: float | None = None) -> None:
        refresh = settings.load(Refresh) if ttl_s is None else settings.load(Refresh, ttl_s=ttl_s)
        self.db = db
        self.ttl_s = refresh.ttl_s
        self.miss_reload_s = min(self.ttl_s, refresh.miss_reload_s)
        self._places: dict[str, Placement] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Placement]:
        self.db.prepare()
        query = (select(entities.c.entity_id, entities.c.device_id,
                        func.coalesce(entities.c.area_id, devices.c.area_id), devices.c.manufacturer, devices.c.model)
                 .select_from(entities.outerjoin(devices, entities.c.device_id == devices.c.device_id))
                 .where(entities.c.removed_at.is_(None)))
        with self.db.engine.connect() as conn:
            return {row[0]: Placement(*row[1:]) for row in conn.execute(query)}

    def _fresh(self, max_age_s: float) -> dict[str, Placement]:
        if time.monotonic() - self._loaded_at <= max_age_s:  # the common case, asked of every record: no lock
            return self._places
        with self._lock:
            if time.monotonic() - self._loaded_at > max_age_s:
                try:
                    self._places = self._load()
                except DBAPIError as exc:
                    _refresh_failures.inc()
                    log.warning("entity directory not refreshed", extra={"error": type(exc.orig).__name__})
                self._loaded_at = time.monotonic()
            return self._places

    def place(self, record: dict[str, Any]) -> dict[str, Any]:
        """Fill device_id, area_id, device_manufacturer and device_model of an event record in place."""
        entity_id = record.get("entity_id") or ""
        placement = self._fresh(self.ttl_s).get(entity_id)
        if placement is None and entity_id:
            placement = self._fresh(self.miss_reload_s).get(entity_id)
        if placement:
            record.update(placement._asdict())
        return record
