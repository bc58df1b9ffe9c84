"""Devices, entities and areas from the metadata DB, with filters and keyset pagination.

Things HA no longer has (removed_at set) are left out. An entity's area is its own, else its device's,
as HA shows it. An entity's name is the one HA displays (its friendly_name, which includes the device's name:
"Kitchen Climate Temperature", not "Temperature"). Text filters are bound parameters with LIKE's wildcards
escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, tuple_
from sqlalchemy.exc import DBAPIError, OperationalError

from ingestor.cursors import Keyset
from ingestor.errors import NotFound
from ingestor.metadata.registry import MetadataDB
from ingestor.metadata.schema import areas, devices, entities
from ingestor.store.model import StoreError, StoreUnavailable
from ingestor.units import unit_name

d, e, a = devices.c, entities.c, areas.c
DEVICE_NAME = func.coalesce(d.name_by_user, d.name, "")
ENTITY_AREA = func.coalesce(e.area_id, d.area_id)


def _rows(db: MetadataDB, statement: Any) -> list[Any]:
    try:
        db.prepare()
        with db.engine.connect() as conn:
            return list(conn.execute(statement))
    except OperationalError as exc:
        raise StoreUnavailable(f"metadata DB unavailable: {type(exc.orig).__name__}") from exc
    except DBAPIError as exc:
        raise StoreError(f"metadata DB refused the query: {type(exc.orig).__name__}") from exc


DEVICES = Keyset((str, str))  # (name, device_id)
ENTITIES = Keyset((str,))  # (entity_id,)


def _entity_counts() -> Any:
    return (select(e.device_id, func.count().label("n")).where(e.removed_at.is_(None), e.device_id.is_not(None))
            .group_by(e.device_id).subquery())


def _device_select() -> Any:
    counts = _entity_counts()
    return (select(d.device_id, DEVICE_NAME.label("name"), d.manufacturer, d.model, d.sw_version, d.hw_version,
                   d.area_id, a.name.label("area_name"), func.coalesce(counts.c.n, 0).label("entity_count"),
                   d.disabled_by)
            .select_from(devices.outerjoin(areas, d.area_id == a.area_id)
                         .outerjoin(counts, counts.c.device_id == d.device_id))
            .where(d.removed_at.is_(None)))


def _device(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {"device_id": m["device_id"], "name": m["name"] or None, "manufacturer": m["manufacturer"],
            "model": m["model"], "sw_version": m["sw_version"], "hw_version": m["hw_version"],
            "area_id": m["area_id"], "area_name": m["area_name"], "entity_count": int(m["entity_count"]),
            "disabled": m["disabled_by"] is not None}


def list_devices(db: MetadataDB, manufacturer: str | None, model: str | None, area_id: str | None,
                 platform: str | None, q: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    clauses: list[ColumnElement[bool]] = []
    if manufacturer is not None:
        clauses.append(d.manufacturer == manufacturer)
    if model is not None:
        clauses.append(d.model == model)
    if area_id is not None:
        clauses.append(d.area_id == area_id)
    if platform is not None:
        clauses.append(d.device_id.in_(select(e.device_id).where(e.platform == platform, e.removed_at.is_(None))))
    if q:
        clauses.append(or_(*(c.icontains(q, autoescape=True) for c in (d.name, d.name_by_user, d.manufacturer,
                                                                        d.model, d.device_id))))
    if cursor:
        clauses.append(tuple_(DEVICE_NAME, d.device_id) > tuple_(*DEVICES.decode(cursor)))
    rows = _rows(db, _device_select().where(*clauses).order_by(DEVICE_NAME, d.device_id).limit(limit + 1))
    items = [_device(r) for r in rows[:limit]]
    more = len(rows) > limit
    last = items[-1] if more else None
    return {"items": items, "next_cursor": DEVICES.encode(last["name"] or "", last["device_id"]) if last else None}


ENTITY_NAME = func.coalesce(e.friendly_name, e.name, e.original_name)


def _entity_select() -> Any:
    return (select(e.entity_id, ENTITY_NAME.label("display_name"), e.domain, e.platform, e.device_id,
                   ENTITY_AREA.label("area_id"), a.name.label("area_name"), DEVICE_NAME.label("device_name"),
                   e.disabled_by, e.friendly_name, e.device_class, e.unit_of_measurement, e.state, e.last_changed,
                   e.entity_category)
            .select_from(entities.outerjoin(devices, e.device_id == d.device_id)
                         .outerjoin(areas, a.area_id == ENTITY_AREA))
            .where(e.removed_at.is_(None)))


def _entity(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {"entity_id": m["entity_id"], "name": m["display_name"], "domain": m["domain"],
            "platform": m["platform"], "device_id": m["device_id"], "device_name": m["device_name"] or None,
            "area_id": m["area_id"], "area_name": m["area_name"], "disabled": m["disabled_by"] is not None,
            "friendly_name": m["friendly_name"], "device_class": m["device_class"],
            "unit": unit_name(m["unit_of_measurement"]), "unit_of_measurement": m["unit_of_measurement"],
            "state": m["state"], "last_changed": m["last_changed"], "entity_category": m["entity_category"]}


def get_device(db: MetadataDB, device_id: str) -> dict[str, Any]:
    rows = _rows(db, _device_select().where(d.device_id == device_id))
    if not rows:
        raise NotFound(f"no device {device_id!r} in the metadata DB")
    out = _device(rows[0])
    out["entities"] = [_entity(r) for r in _rows(db, _entity_select().where(e.device_id == device_id)
                                                 .order_by(e.entity_id))]
    return out


def list_entities(db: MetadataDB, domain: str | None, platform: str | None, area_id: str | None,
                  device_id: str | None, q: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    clauses: list[ColumnElement[bool]] = []
    for column, value in ((e.domain, domain), (e.platform, platform), (e.device_id, device_id),
                          (ENTITY_AREA, area_id)):
        if value is not None:
            clauses.append(column == value)
    if q:
        clauses.append(or_(*(c.icontains(q, autoescape=True) for c in (e.entity_id, e.name, e.original_name,
                                                                        e.friendly_name))))
    if cursor:
        clauses.append(e.entity_id > ENTITIES.decode(cursor)[0])
    rows = _rows(db, _entity_select().where(*clauses).order_by(e.entity_id).limit(limit + 1))
    items = [_entity(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_cursor": ENTITIES.encode(items[-1]["entity_id"]) if more else None}


def entity(db: MetadataDB, entity_id: str) -> dict[str, Any] | None:
    rows = _rows(db, _entity_select().where(e.entity_id == entity_id))
    return _entity(rows[0]) if rows else None


def list_areas(db: MetadataDB) -> dict[str, Any]:
    device_counts = (select(d.area_id, func.count().label("n")).where(d.removed_at.is_(None))
                     .group_by(d.area_id).subquery())
    entity_area = (select(ENTITY_AREA.label("area_id"))
                   .select_from(entities.outerjoin(devices, e.device_id == d.device_id))
                   .where(e.removed_at.is_(None)).subquery())
    entity_counts = (select(entity_area.c.area_id, func.count().label("n")).group_by(entity_area.c.area_id)
                     .subquery())
    rows = _rows(db, select(a.area_id, a.name, func.coalesce(device_counts.c.n, 0),
                            func.coalesce(entity_counts.c.n, 0))
                 .select_from(areas.outerjoin(device_counts, device_counts.c.area_id == a.area_id)
                              .outerjoin(entity_counts, entity_counts.c.area_id == a.area_id))
                 .where(a.removed_at.is_(None)).order_by(func.coalesce(a.name, a.area_id), a.area_id))
    return {"items": [{"area_id": r[0], "name": r[1], "device_count": int(r[2]), "entity_count": int(r[3])}
                      for r in rows]}


@dataclass(frozen=True)
class Names:
    """What HA calls each area, device and entity (removed ones included: old events still name them)."""

    areas: dict[str, str | None]
    devices: dict[str, str | None]
    entities: dict[str, str | None]


def names(db: MetadataDB) -> Names:
    return Names({r[0]: r[1] for r in _rows(db, select(a.area_id, a.name))},
                 {r[0]: r[1] or None for r in _rows(db, select(d.device_id, DEVICE_NAME))},
                 {r[0]: r[1] for r in _rows(db, select(e.entity_id, ENTITY_NAME))})


def all_devices(db: MetadataDB) -> dict[str, dict[str, Any]]:
    """Every current device with its entity count, by id (reliability joins event counts onto it)."""
    return {row.device_id: _device(row) for row in _rows(db, _device_select())}


def entity_devices(db: MetadataDB) -> dict[str, str]:
    """entity_id -> device_id, for events stored before their entity had a device."""
    return {r[0]: r[1] for r in _rows(db, select(e.entity_id, e.device_id).where(e.device_id.is_not(None)))}


def measuring(db: MetadataDB, device_classes: tuple[str, ...], units: tuple[str, ...]) -> list[dict[str, Any]]:
    """Current entities of one of `device_classes` or measured in one of `units` (HA's symbols), by entity_id."""
    rows = _rows(db, _entity_select().where(or_(e.device_class.in_(device_classes),
                                                e.unit_of_measurement.in_(units))).order_by(e.entity_id))
    return [_entity(r) for r in rows]
