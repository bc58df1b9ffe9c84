"""Recent events and search: the event store's pages, newest first, with every filter; and the event as the API
answers it (the stored record plus the names and unit people read)."""

from __future__ import annotations

from typing import Any

from ingestor.queries.catalog import Names
from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore
from ingestor.units import displayed


def labelled(event: dict[str, Any], names: Names) -> dict[str, Any]:
    """The stored record plus the names of its entity, area and device and its unit as HA displays it (`unit`
    stays the normalized name, for machines). A service call's record has no friendly_name of its own (that is a
    state's attribute); entity_name names its entity all the same."""
    entity, area, device = event.get("entity_id"), event.get("area_id"), event.get("device_id")
    return {**event, "entity_name": event.get("friendly_name") or (names.entities.get(entity) if entity else None),
            "area_name": names.areas.get(area) if area else None,
            "device_name": names.devices.get(device) if device else None,
            "unit_of_measurement": displayed(event.get("unit"), event.get("attributes"))}


def labelled_tree(node: dict[str, Any], names: Names) -> dict[str, Any]:
    """A trace node (ingestor.queries.trace) with every event labelled."""
    return {**node, "events": [labelled(e, names) for e in node["events"]],
            "children": [labelled_tree(c, names) for c in node["children"]]}


def search(store: EventStore, f: EventFilter, limit: int, cursor: str | None, names: Names) -> dict[str, Any]:
    page = store.query(f, limit=limit, cursor=cursor)
    return {"items": [labelled(e, names) for e in page.items], "next_cursor": page.next_cursor}
