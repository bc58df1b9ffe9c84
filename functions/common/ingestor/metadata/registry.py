"""Applying the bridge's `ha.registry` parts to the metadata DB.

A part is {"type": config|areas|devices|entities|states, "snapshot_id", "fetched_at", "ha_version",
"part" (counted from 1), "parts", "items": [HA's own objects]}. Parts upsert as they come; once every part of a
snapshot has arrived, what the snapshot no longer holds is marked removed (and unmarked if it returns).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, String, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from ingestor import jsoncodec
from ingestor.errors import Invalid
from ingestor.metadata.schema import MIGRATIONS, areas, devices, entities, registry_parts, settings
from ingestor.store.migrate import upgrade
from ingestor.store.model import StoreError, StoreUnavailable
from ingestor.store.sqlengine import engine_for
from ingestor.timeutil import format_timestamp

TYPES = ("config", "areas", "devices", "entities", "states")
_ID = {"areas": "area_id", "devices": "id", "entities": "entity_id", "states": "entity_id"}
MAX_PARTS = 10_000  # a snapshot's parts: an Integer column, and far more than any home needs


def check(part: Any) -> dict[str, Any]:
    """metadata-sync's stage check: the part, or Invalid naming what the metadata DB could not store."""
    reason = problem(part)
    if reason:
        raise Invalid(reason)
    return part


def problem(part: Any) -> str | None:
    """Why `part` is not a registry part the metadata DB can take, or None: its shape, then every row it
    makes against the columns they go to (type, length, no NUL), so a database never refuses one."""
    if not isinstance(part, dict):
        return "part: expected an object"
    if part.get("type") not in TYPES:
        return f"type: expected one of {', '.join(TYPES)}, got {part.get('type')!r}"
    if not isinstance(part.get("snapshot_id"), str) or not part["snapshot_id"]:
        return "snapshot_id: expected a non-empty string"
    if not isinstance(part.get("part"), int) or not isinstance(part.get("parts"), int) \
            or not 1 <= part["part"] <= part["parts"] <= MAX_PARTS:
        return f"part/parts: expected integers with 1 <= part <= parts <= {MAX_PARTS}"
    items = part.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return "items: expected a list of objects"
    key = _ID.get(part["type"])
    if key and not all(isinstance(i.get(key), str) and i[key] for i in items):
        return f"items: every {part['type']} item needs a string {key}"
    if part["type"] == "states" and not all(isinstance(i.get("attributes"), dict | None) for i in items):
        return "items: a state's attributes must be an object or null"
    reason = _unstorable(registry_parts, _part_row(part))
    if reason:
        return reason
    table, rows = _rows(part, "")
    for index, row in enumerate(rows):
        reason = _unstorable(table, row)
        if reason:
            return f"items[{index}].{reason}"
    return None


def _unstorable(table: Table, row: dict[str, Any]) -> str | None:
    for name, value in row.items():
        kind = table.c[name].type
        if value is None:
            continue
        if isinstance(kind, String):
            if not isinstance(value, str):
                return f"{name}: expected a string or null, got {type(value).__name__}"
            if "\x00" in value:
                return f"{name}: NUL characters cannot be stored"
            if kind.length is not None and len(value) > kind.length:
                return f"{name}: at most {kind.length} characters, got {len(value)}"
    return None


def _part_row(part: dict[str, Any]) -> dict[str, Any]:
    return {"snapshot_id": part["snapshot_id"], "part": part["part"], "parts": part["parts"]}


def _rows(part: dict[str, Any], now: str) -> tuple[Table, list[dict[str, Any]]]:
    """The table a part goes to and its rows (HA's objects mapped to columns)."""
    track = {"last_snapshot": part["snapshot_id"], "updated_at": now, "removed_at": None}
    items = part["items"]
    kind = part["type"]
    if kind == "config":
        return settings, [{"key": "ha_config", "value": _json(item), "updated_at": now} for item in items[-1:]]
    if kind == "areas":
        return areas, [{"area_id": a["area_id"], "name": a.get("name"), "aliases": _json(a.get("aliases")),
                        "icon": a.get("icon"), **track} for a in items]
    if kind == "devices":
        return devices, [{
            "device_id": d["id"], "name": d.get("name"), "name_by_user": d.get("name_by_user"),
            "manufacturer": d.get("manufacturer"), "model": d.get("model"), "area_id": d.get("area_id"),
            "sw_version": d.get("sw_version"), "hw_version": d.get("hw_version"),
            "serial_number": d.get("serial_number"), "via_device_id": d.get("via_device_id"),
            "entry_type": d.get("entry_type"), "disabled_by": d.get("disabled_by"),
            "identifiers": _json(d.get("identifiers")), "config_entries": _json(d.get("config_entries")), **track,
        } for d in items]
    if kind == "entities":
        return entities, [{
            "entity_id": e["entity_id"], "domain": e["entity_id"].split(".", 1)[0], "in_registry": True,
            "registry_id": e.get("id"), "unique_id": _text(e.get("unique_id")), "platform": e.get("platform"),
            "device_id": e.get("device_id"), "area_id": e.get("area_id"), "name": e.get("name"),
            "original_name": e.get("original_name"), "entity_category": e.get("entity_category"),
            "disabled_by": e.get("disabled_by"), "hidden_by": e.get("hidden_by"), "icon": e.get("icon"), **track,
        } for e in items]
    # states: every entity HA has, registered or not (zone.home has no registry entry)
    return entities, [{
        "entity_id": s["entity_id"], "domain": s["entity_id"].split(".", 1)[0],
        "friendly_name": _text((s.get("attributes") or {}).get("friendly_name")),
        "device_class": _text((s.get("attributes") or {}).get("device_class")),
        "unit_of_measurement": _text((s.get("attributes") or {}).get("unit_of_measurement")),
        "state": _text(s.get("state")), "last_changed": s.get("last_changed"), **track,
    } for s in items]


def _json(value: Any) -> str | None:
    return None if value is None else jsoncodec.dumps(value).decode()


class MetadataDB:
    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)
        self._insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
        self._ready = False

    def prepare(self) -> None:
        if not self._ready:
            upgrade(self.engine, MIGRATIONS)
            self._ready = True

    def _upsert(self, conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        key = [c.name for c in table.primary_key.columns]
        updates = {name: stmt.excluded[name] for name in rows[0] if name not in key}
        conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=updates), rows)

    def apply(self, parts: list[dict[str, Any]]) -> None:
        """Upsert every part in one transaction, then finish any snapshot now complete."""
        now = format_timestamp(dt.datetime.now(dt.UTC))
        try:
            self.prepare()
            with self.engine.begin() as conn:
                for part in parts:
                    self._upsert(conn, *_rows(part, now))
                    self._upsert(conn, registry_parts, [_part_row(part)])
                for snapshot_id in {p["snapshot_id"] for p in parts}:
                    self._finish_if_complete(conn, snapshot_id, now)
        except OperationalError as exc:
            raise StoreUnavailable(f"metadata DB unavailable: {type(exc.orig).__name__}",
                                   code="metadata_unavailable") from exc
        except DBAPIError as exc:
            raise StoreError(f"metadata DB refused the update: {type(exc.orig).__name__}") from exc

    def _finish_if_complete(self, conn: Any, snapshot_id: str, now: str) -> None:
        received, parts = conn.execute(
            select(func.count(), func.max(registry_parts.c.parts)).where(registry_parts.c.snapshot_id == snapshot_id)
        ).one()
        if not parts or received < parts:
            return
        for table in (areas, devices, entities):
            conn.execute(update(table).where(table.c.last_snapshot != snapshot_id, table.c.removed_at.is_(None))
                         .values(removed_at=now))
        conn.execute(registry_parts.delete().where(registry_parts.c.snapshot_id != snapshot_id))

    def ha_config(self) -> dict[str, Any] | None:
        """HA's own config (latitude, longitude, time_zone…) as the bridge last published it."""
        self.prepare()
        with self.engine.connect() as conn:
            return stored_ha_config(conn)

    def health(self) -> dict[str, Any]:
        try:
            self.prepare()
            with self.engine.connect() as conn:
                counts = {t.name: conn.execute(select(func.count()).select_from(t).where(t.c.removed_at.is_(None)))
                          .scalar() for t in (areas, devices, entities)}
        except DBAPIError as exc:
            return {"status": "unavailable", "reason": type(exc.orig).__name__}
        return {"status": "ok", **counts}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def stored_ha_config(conn: Any) -> dict[str, Any] | None:
    """HA's config as metadata-sync keeps it (the `settings` row "ha_config"), or None before the first snapshot."""
    value = conn.execute(select(settings.c.value).where(settings.c.key == "ha_config")).scalar()
    return None if value is None else jsoncodec.loads(value)
