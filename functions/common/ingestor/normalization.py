"""A validated raw HA event becomes the event record (ingestor.record): one flat shape for every event type.

One event is one record, except a service call that targets several entities (automations call services with
a list, `service_data.entity_id: [...]`): it becomes one record per entity, so every count, filter and area
join sees each entity it acted on. Later stages fill device_id, area_id, device_manufacturer, device_model and
weather; this stage only reads the event itself, so its output depends on nothing but its input.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from ingestor import record
from ingestor.errors import Invalid
from ingestor.event_id import event_id, target_event_id
from ingestor.record import Context, EventRecord
from ingestor.timeutil import canonical, parse_timestamp
from ingestor.units import unit_name
from ingestor.validation import is_entity_id


class NormalizationError(Invalid, ValueError):
    """The event lacks what a record is built from (it should not have passed validation)."""


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_BINARY = {
    "on": 1.0, "off": 0.0,
    "true": 1.0, "false": 0.0,
    "yes": 1.0, "no": 0.0,
    "open": 1.0, "closed": 0.0,
    "home": 1.0, "not_home": 0.0,
    "locked": 1.0, "unlocked": 0.0,
    "detected": 1.0, "clear": 0.0,
}


def coerce_state_value(state: str | None) -> float | None:
    """The state as a number for charts and statistics, or None when it is not one.

    Decimal numbers (surrounding spaces ignored, exponents allowed) become floats; NaN, infinity
    and values that overflow a float become None. Only clearly two-valued states count as
    booleans, case-insensitively: on/off, true/false, yes/no, open/closed, home/not_home,
    locked/unlocked, detected/clear give 1.0/0.0. Everything else, including "unavailable",
    "unknown" and "", is None: a wrong number in a time series is worse than none.
    """
    if state is None:
        return None
    found = _values.get(state, _UNSEEN)  # a home's states repeat (on, off, 21.5…): each is read once
    if found is _UNSEEN:
        if len(_values) > 100_000:
            _values.clear()
        found = _values[state] = _coerce(state)
    return found  # type: ignore[return-value]


_UNSEEN = object()
_values: dict[str, float | None] = {}


def _coerce(state: str) -> float | None:
    text = state.strip()
    if _NUMBER.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return _BINARY.get(text.lower())


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _instant(value: object, field: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise NormalizationError(f"{field}: {exc}") from None


def _duration(old: dict[str, Any] | None, new: dict[str, Any] | None) -> float | None:
    """Seconds the old state lasted, when this event ends it (attribute-only updates do not)."""
    if old is None or new is None or old.get("state") == new.get("state"):
        return None
    ended = _instant(new.get("last_changed"), "data.new_state.last_changed")
    began = _instant(old.get("last_changed"), "data.old_state.last_changed")
    seconds = (ended - began).total_seconds()
    return seconds if seconds >= 0 else None  # clocks do go backwards; no duration beats a wrong one


def _state_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The record's entity and state fields of a state_changed event."""
    entity_id = data.get("entity_id")
    if not isinstance(entity_id, str) or "." not in entity_id:
        raise NormalizationError("data.entity_id: expected an entity id")
    new = data.get("new_state")
    old = data.get("old_state")
    if new is not None and not isinstance(new, dict):
        raise NormalizationError("data.new_state: expected an object")
    if old is not None and not isinstance(old, dict):
        raise NormalizationError("data.old_state: expected an object")
    # An entity's removal (new_state null) still says what was removed: describe it by its last state.
    described = new if new is not None else old
    attributes = {} if described is None else described.get("attributes", {})
    if not isinstance(attributes, dict):
        raise NormalizationError(f"data.{'new_state' if new is not None else 'old_state'}.attributes: "
                                 "expected an object")
    unit = attributes.get("unit_of_measurement")
    name = attributes.get("friendly_name")
    device_class = attributes.get("device_class")
    state = new.get("state") if new is not None else None
    state = state if isinstance(state, str) else None
    old_state = old.get("state") if old is not None else None
    return {
        "entity_id": entity_id,
        "domain": entity_id.split(".", 1)[0],
        "state": state,
        "old_state": old_state if isinstance(old_state, str) else None,
        "state_value": coerce_state_value(state),
        "unit": unit_name(unit) if isinstance(unit, str) else None,
        "device_class": device_class if isinstance(device_class, str) else None,
        "friendly_name": name if isinstance(name, str) else None,
        "attributes": dict(attributes),
        "duration_in_state": _duration(old, new),
    }


def service_targets(data: dict[str, Any]) -> list[str]:
    """The entities a call_service event's `service_data.entity_id` names, in order, each once.

    HA accepts one id, a list of ids or ids separated by commas; "all", "none" and anything that is not an
    entity id name no entity. (Area and device targets are not expanded: HA resolves them when it runs the
    service, and the event does not say to which entities.)
    """
    service_data = data.get("service_data")
    value = service_data.get("entity_id") if isinstance(service_data, dict) else None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(v for v in value if is_entity_id(v)))


def _other_fields(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The same fields for any other event: its entity, if it names exactly one, and no state."""
    if event_type == "call_service":
        targets = service_targets(data)
        candidate: object = targets[0] if len(targets) == 1 else None
    else:
        candidate = data.get("entity_id")
    entity_id = candidate if is_entity_id(candidate) else None
    if entity_id is not None:
        domain: str | None = entity_id.split(".", 1)[0]
    else:
        domain = _str_or_none(data.get("domain")) if event_type == "call_service" else None
    named = event_type in ("automation_triggered", "script_started")
    return {"entity_id": entity_id, "domain": domain,
            "friendly_name": _str_or_none(data.get("name")) if named else None}


def normalize(event: dict[str, Any]) -> list[EventRecord]:
    """The event records of a validated raw HA event; NormalizationError if it lacks what is needed.

    A call_service event naming several entities gives one record per entity: its entity_id and domain, an id
    derived from the call's id and the entity (a replayed call collides, record by record), and the call's
    data with service_data.entity_id naming that entity only (the call's records share its time and context).
    Every other event gives one record.
    """
    one = normalize_event(event)
    targets = service_targets(one["data"]) if one["event_type"] == "call_service" else []
    if len(targets) < 2:
        return [one]
    data = one["data"]
    return [{**one, "event_id": target_event_id(one["event_id"], entity_id), "entity_id": entity_id,
             "domain": entity_id.split(".", 1)[0],
             "data": {**data, "service_data": {**data["service_data"], "entity_id": entity_id}}}
            for entity_id in targets]


def normalize_event(event: dict[str, Any]) -> EventRecord:
    """The record of a validated raw HA event as one event (a call on several entities names none of them:
    `normalize` gives its records per entity); NormalizationError if it lacks what is needed."""
    if not isinstance(event, dict):
        raise NormalizationError("event: expected an object")
    event_type = event.get("event_type")
    if not isinstance(event_type, str):
        raise NormalizationError("event_type: expected a string")
    data = event.get("data")
    if not isinstance(data, dict):
        raise NormalizationError("data: expected an object")
    try:
        time_fired = canonical(event.get("time_fired"))
    except ValueError as exc:
        raise NormalizationError(f"time_fired: {exc}") from None
    is_state = event_type == "state_changed"
    fields = _state_fields(data) if is_state else _other_fields(event_type, data)
    try:
        eid = event_id(event)
    except KeyError as exc:
        raise NormalizationError(f"event_id: cannot be derived, {exc} is missing") from None
    except (TypeError, ValueError) as exc:
        raise NormalizationError(f"event_id: cannot be derived ({exc})") from None
    context = event.get("context")
    if isinstance(context, dict):
        cid, parent, user = context.get("id"), context.get("parent_id"), context.get("user_id")
        ids: Context = {"id": cid if isinstance(cid, str) else None,
                        "parent_id": parent if isinstance(parent, str) else None,
                        "user_id": user if isinstance(user, str) else None}
    else:
        ids = {"id": None, "parent_id": None, "user_id": None}
    origin = event.get("origin")
    made = record.new(eid, event_type, time_fired, origin=origin if isinstance(origin, str) else None, context=ids,
                      data=None if is_state else data, **fields)
    if "backfill" in event:  # live events have none
        marker = _backfill(event["backfill"])
        if marker is not None:
            made[record.BACKFILL] = marker  # type: ignore[literal-required]
    return made


def _backfill(marker: Any) -> record.BackfillMark | None:
    """The bridge's mark on an event it rebuilt from HA's history or logbook: where from, and which context
    fields HA could not give back (the trace view says so instead of linking wrongly). Live events have none."""
    if not isinstance(marker, dict) or not isinstance(marker.get("source"), str):
        return None
    unknown = marker.get("unknown")
    fields = [f for f in unknown if f in record.CONTEXT_KEYS] if isinstance(unknown, list) else []
    return {"source": marker["source"][:32], "unknown": fields}
