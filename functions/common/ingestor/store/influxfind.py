"""Finding a few events among every series of InfluxDB 1.x: by one field first, then read whole.

InfluxDB opens a cursor per series and field a statement reads and decodes a block of up to 1,000 values from
each, whatever the rows it returns: `SELECT *` over every series (~540 in a busy home's newest shard, ~19 fields
each) costs the same for one matching point as for thousands. So the points are found by the one field the
condition compares (its cursor alone per series), then read whole from their own measurements, series and
instants only: the same rows, in the same order, as the condition over every series returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingestor.store import influxql as iql

Select = Callable[[str], list[dict[str, Any]]]
Found = tuple[str, str, int]  # (measurement, entity id or "" for a series without one, time µs)


def located(select: Select, events: str, where: str, field: str) -> list[Found]:
    """Where the points of `events` matching `where` are, by `field` alone (a field the condition reads, so no
    other cursor is opened; a point without it is not found, so `where` must require it)."""
    found: list[Found] = []
    for s in select(f'SELECT {field}, "entity_id" FROM {events} WHERE {where}'):
        at, entity = s["columns"].index("time"), s["columns"].index("entity_id")
        found += [(s.get("name", ""), row[entity] or "", int(row[at])) for row in s.get("values", [])]
    return found


def narrowed(found: list[Found], where: str) -> tuple[str, str]:
    """The FROM clause and condition reading `found` whole: `where` within their measurements, entities and
    span of time (the condition kept, so the rows are those `where` over every series returns)."""
    measurements = ", ".join(iql.identifier(m) for m in sorted({m for m, _, _ in found}))
    times = [t for _, _, t in found]
    entities = iql.entity_in(sorted({e for _, e, _ in found}))
    return measurements, f"{where} AND time >= {min(times) * 1000} AND time <= {max(times) * 1000} AND {entities}"


def whole(select: Select, events: str, where: str, field: str) -> list[dict[str, Any]]:
    """Every row of `SELECT * FROM events WHERE where`, in its order, read in two statements: where they are
    by `field`, then those series and instants whole. `where` must compare `field` (see `located`)."""
    found = located(select, events, where, field)
    if not found:
        return []
    measurements, narrow = narrowed(found, where)
    return select(f"SELECT * FROM {measurements} WHERE {narrow}")
