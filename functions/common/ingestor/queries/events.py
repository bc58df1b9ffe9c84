"""Recent events and search: the event store's pages, newest first, with every filter; and the event as the API
answers it (the stored record plus the names and unit people read)."""

from __future__ import annotations

from typing import Any

from ingestor.queries.catalog import Names
from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore
from ingestor.units import displayed


def labelled(event: dict[str, Any], names: Names) -> dict[str, Any]:
    """The stored record plus its area's and device's names and its unit as HA displays it (`unit` stays the
    normalized name, for machines)."""
    area, device = event.get("area_id"), event.get("device_id")
    return {**event, "area_name": names.areas.get(area) if area else None,
            "device_name": names.devices.get(device) if device else None,
            "unit_of_measurement": displayed(event.get("unit"), event.get("attributes"))}


def search(store: EventStore, f: EventFilter, limit: int, cursor: str | None, names: Names) -> dict[str, Any]:
    page = store.query(f, limit=limit, cursor=cursor)
    return {"items": [labelled(e, names) for e in page.items], "next_cursor": page.next_cursor}
