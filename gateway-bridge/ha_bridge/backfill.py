"""Backfill: state changes HA made while the bridge was away, from HA's history, as state_changed events.

`history/history_during_period` answers in HA's compressed format ({"s", "a", "lu", "lc"} with float
epoch times, no context). Each change becomes a state_changed event in HA's own shape: full old and
new state objects, time_fired = new_state.last_updated. The float times are the recorder's
`last_updated_ts`, the exact double of HA's microsecond datetime, so the rebuilt ISO time, and with it
the event_id, equals that of the live event: a change already forwarded is recognised and dropped.

HA 2024.3's history and logbook give no context id for a state change. The one exception is an entity's
latest change: get_states (read at connect) holds that state with its real context, which is used when
its time and state match. Every other change gets the context `backfill-<event_id>` (parent and user
null) and `"backfill": {"source": "history", "unknown": ["id", "parent_id", "user_id"]}`, so the trace
view says "context unknown (backfilled)" instead of linking it wrongly.

Rows up to the cursor were forwarded already and are never emitted. The query starts a little before
the cursor so that the first change's old_state is a real row (with its real times); HA reports the
state at the query start with its times replaced by the start time, and that row is used only when
neither a real row nor the bridge's last known state is available.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from ha_bridge.connection import Connection
from ingestor import metrics
from ingestor.event_id import state_event_id

log = logging.getLogger(__name__)

_backfilled = metrics.counter("bridge_backfill_events_total",
                              "State changes rebuilt from HA's history, before deduplication")
_runs = metrics.counter("bridge_backfill_runs_total", "Backfill passes over a gap")

ENTITIES_PER_REQUEST = 100
TOLERANCE_S = 1e-6  # one microsecond, HA's resolution
LOOKBACK_S = 15.0  # history before the cursor, for the real predecessor of the first change (see state.py)


def iso(ts: float) -> str:
    """An epoch time as HA writes it: UTC, +00:00, microseconds (omitted when zero, like isoformat)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def _context(state: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"backfill-{state_event_id(state)}", "parent_id": None, "user_id": None}


def _placeholder(state: dict[str, Any]) -> bool:
    return str(state["context"].get("id", "")).startswith("backfill-")


UNKNOWN_CONTEXT = ["id", "parent_id", "user_id"]


def full_state(entity_id: str, row: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """A compressed history row as the state object HA puts in events (key order included); its context is
    the real one when `current` (from get_states) is this very state, else a marked placeholder."""
    updated = row["lu"]
    state = {"entity_id": entity_id, "state": row["s"], "attributes": row.get("a") or {},
             "last_changed": iso(row.get("lc", updated)), "last_updated": iso(updated)}
    state["context"] = _real_context(state, current) or _context(state)
    return state


def _real_context(state: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any] | None:
    if not current or not isinstance(current.get("context"), dict) or current.get("state") != state["state"]:
        return None
    same_time = _timestamp(current) is not None and _timestamp(current) == _timestamp(state)
    return dict(current["context"]) if same_time else None


def _timestamp(state: dict[str, Any] | None) -> float | None:
    try:
        return dt.datetime.fromisoformat(state["last_updated"]).timestamp() if state else None
    except (KeyError, TypeError, ValueError):
        return None


def events_for_entity(entity_id: str, rows: list[Any], cursor_ts: float, query_ts: float,
                      known: dict[str, Any] | None, current: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The state_changed events for one entity's history rows after `cursor_ts` (oldest first).

    Rows up to the cursor were forwarded already; they only tell which state came before the gap.
    `current` is the entity's state from get_states, whose context is real.
    """
    previous: dict[str, Any] | None = None
    previous_is_real = False
    events: list[dict[str, Any]] = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("lu"), int | float) or not isinstance(row.get("s"), str):
            log.warning("skipped an unreadable history row", extra={"entity_id": entity_id})
            continue
        state = full_state(entity_id, row, current)
        if row["lu"] <= cursor_ts + TOLERANCE_S:
            # HA's start-time row carries the query start as its times: a state, but not when it began.
            previous, previous_is_real = state, row["lu"] > query_ts + TOLERANCE_S
            continue
        old_state = previous if events else _before_gap(known, previous, previous_is_real, cursor_ts)
        events.append({
            "event_type": "state_changed",
            "data": {"entity_id": entity_id, "old_state": old_state, "new_state": state},
            "origin": "LOCAL",
            "time_fired": state["last_updated"],
            "context": state["context"],
            "backfill": {"source": "history", "unknown": list(UNKNOWN_CONTEXT) if _placeholder(state) else []},
        })
        previous = state
    return events


def _before_gap(known: dict[str, Any] | None, previous: dict[str, Any] | None, previous_is_real: bool,
                cursor_ts: float) -> dict[str, Any] | None:
    """old_state of the first change: the state the bridge last forwarded (richer: all attributes, the real
    context) when it matches history, else history's own row."""
    known_ts = _timestamp(known)
    if known is None or known_ts is None:
        return previous
    if previous is not None and previous_is_real:
        same = known_ts == _timestamp(previous) and known.get("state") == previous["state"]
        return known if same else previous
    if known_ts <= cursor_ts + TOLERANCE_S and (previous is None or previous["state"] == known.get("state")):
        return known
    return previous


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def run(conn: Connection, cursor: dt.datetime, end: dt.datetime, entity_ids: Iterable[str],
        known: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Every state change after `cursor` up to `end` for `entity_ids`, as events ordered by time_fired.
    `known`: the states the bridge last forwarded; `current`: get_states' (with their real contexts)."""
    _runs.inc()
    query_start = cursor - dt.timedelta(seconds=LOOKBACK_S)
    cursor_ts, query_ts = cursor.timestamp(), query_start.timestamp()
    events: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(set(entity_ids)), ENTITIES_PER_REQUEST):
        result = conn.request("history/history_during_period", timeout=timeout, start_time=query_start.isoformat(),
                              end_time=end.isoformat(), entity_ids=chunk, include_start_time_state=True,
                              significant_changes_only=False, minimal_response=False, no_attributes=False)
        for entity_id, rows in (result or {}).items():
            if isinstance(rows, list):
                events.extend(events_for_entity(entity_id, rows, cursor_ts, query_ts, known.get(entity_id),
                                                current.get(entity_id)))
    events.sort(key=lambda e: dt.datetime.fromisoformat(e["time_fired"]))
    _backfilled.inc(len(events))
    return events
