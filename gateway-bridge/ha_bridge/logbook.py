"""Backfill of non-state events from HA's logbook (`logbook/get_events`), rebuilt as HA would have sent them.

HA's history holds state changes only; its logbook (the `logbook` integration, part of default_config)
also keeps, for HA 2024.3, what these event types need to be rebuilt:

- automation_triggered, script_started: the row has name, entity_id (and source), context_id and
  `when`: data, time_fired and the context id and user are exact; the parent context is unknown.
- logbook_entry: name, message, domain, entity_id and `when`: data (domain as sent, see below),
  time_fired and the user are exact; the context id and parent are unknown.
- homeassistant_start / homeassistant_stop: "Home Assistant" started/stopped and `when`: time_fired is
  exact (their data is empty); the context id and parent are unknown.

`when` is the recorder's `time_fired_ts`, the exact double of HA's microsecond time, so the rebuilt
time_fired and with it the event id (ingestor.event_id, built from these fields only) equal the live
event's: a replay of what a replica captured live is recognised as such. What the logbook cannot give is
listed in the event's `backfill.unknown`, and an unknown context id is `backfill-<event_id>`, so the trace
view can say "context unknown (backfilled)" instead of linking wrongly.

The logbook never returns call_service (it only uses it to describe other rows) and state changes come
from the history; rows of other integrations' events (alexa, homekit, mobile_app…) are skipped: their
event types and data cannot be told from their descriptions. A logbook_entry row is told apart from those
by its shape: HA writes its keys starting with `when` and always with name, message, domain and entity_id.
The logbook fills in `domain` from entity_id when the entry had none, so it is rebuilt only when there is
no entity_id (then it was in the entry: HA's own logbook.log sets "logbook" when both are missing).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from ha_bridge.backfill import iso
from ha_bridge.connection import Connection
from ingestor import metrics
from ingestor.event_id import event_id

log = logging.getLogger(__name__)

_rebuilt = metrics.counter("bridge_logbook_events_total", "Non-state events rebuilt from HA's logbook, by type",
                           ["event_type"])

ENTRY_KEYS = frozenset({"when", "name", "message", "domain", "entity_id"})
LIFECYCLE = {"started": "homeassistant_start", "stopped": "homeassistant_stop"}
BACKFILLABLE = frozenset({"automation_triggered", "script_started", "logbook_entry", *LIFECYCLE.values()})


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _kind(row: dict[str, Any]) -> str | None:
    """Which event a row describes, or None for state changes and other integrations' events."""
    domain = row.get("domain")
    if "state" in row:
        return None
    if domain == "automation" and isinstance(row.get("context_id"), str):
        return "automation_triggered"
    if domain == "script" and isinstance(row.get("context_id"), str):
        return "script_started"
    if domain == "homeassistant" and row.get("name") == "Home Assistant" and row.get("message") in LIFECYCLE:
        return LIFECYCLE[row["message"]]
    if next(iter(row), None) == "when" and row.keys() >= ENTRY_KEYS:
        return "logbook_entry"
    return None


def _data(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    if kind in ("automation_triggered", "script_started"):
        data = {"name": row.get("name"), "entity_id": row.get("entity_id")}
        if kind == "automation_triggered" and row.get("source") is not None:
            data["source"] = row["source"]
        return data
    if kind == "logbook_entry":
        data = {"name": row.get("name"), "message": row.get("message")}
        if row.get("entity_id") is not None:
            data["entity_id"] = row["entity_id"]
        elif row.get("domain") is not None:
            data["domain"] = row["domain"]
        return data
    return {}


def event_of(row: Any) -> dict[str, Any] | None:
    """The event a logbook row stands for, in HA's shape plus `backfill`; None when it is not one we rebuild."""
    if not isinstance(row, dict) or not isinstance(row.get("when"), int | float):
        return None
    kind = _kind(row)
    if kind is None:
        return None
    user_id = _optional_str(row.get("context_user_id"))  # present whenever the event had one
    context_id = _optional_str(row.get("context_id"))
    event: dict[str, Any] = {"event_type": kind, "data": _data(kind, row), "origin": "LOCAL",
                             "time_fired": iso(float(row["when"])),
                             "context": {"id": context_id, "parent_id": None, "user_id": user_id}}
    unknown = ["parent_id"]
    if context_id is None:
        event["context"]["id"] = f"backfill-{event_id(event)}"  # the id does not depend on the context here
        unknown.insert(0, "id")
    event["backfill"] = {"source": "logbook", "unknown": unknown}
    return event


def events(rows: Iterable[Any], wanted: Iterable[str]) -> list[dict[str, Any]]:
    """The events of `rows` whose type is in `wanted`, oldest first."""
    types = set(wanted) & BACKFILLABLE
    found = [e for row in rows if (e := event_of(row)) is not None and e["event_type"] in types]
    for event in found:
        _rebuilt.labels(event["event_type"]).inc()
    return sorted(found, key=lambda e: dt.datetime.fromisoformat(e["time_fired"]))


def run(conn: Connection, start: dt.datetime, end: dt.datetime, wanted: Iterable[str],
        timeout: float) -> list[dict[str, Any]]:
    """The non-state events of types `wanted` that HA's logbook holds between `start` and `end`."""
    rows = conn.request("logbook/get_events", timeout=timeout, start_time=start.isoformat(),
                        end_time=end.isoformat())
    return events(rows if isinstance(rows, list) else [], wanted)
