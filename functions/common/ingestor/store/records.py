"""Checks on event records arriving at a store: the boundary where bad input becomes a 4xx."""

from __future__ import annotations

import re
from typing import Any

from ingestor.timeutil import parse_timestamp
from ingestor.validation import EVENT_TYPE

_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
TEXT_FIELDS = ("event_type", "origin", "entity_id", "domain", "state", "old_state", "unit", "device_class",
               "friendly_name", "device_id", "area_id", "device_manufacturer", "device_model")


def problem(record: Any) -> str | None:
    """Why `record` cannot be stored, or None. Accepts what normalize (and later stages) produce."""
    if not isinstance(record, dict):
        return "record: expected an object"
    if not isinstance(record.get("event_id"), str) or not _EVENT_ID.match(record["event_id"]):
        return "event_id: expected 32 lowercase hex characters"
    if not isinstance(record.get("event_type"), str) or not EVENT_TYPE.fullmatch(record["event_type"]):
        return "event_type: expected letters, digits, _ . : - (1 to 64), as validate accepts"
    try:
        parse_timestamp(record.get("time_fired"))
    except ValueError as exc:
        return f"time_fired: {exc}"
    for name in TEXT_FIELDS:
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"{name}: expected a string or null"
    for name in ("state_value", "duration_in_state"):
        value = record.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{name}: expected a number or null"
    for name in ("attributes", "context"):
        if record.get(name) is not None and not isinstance(record[name], dict):
            return f"{name}: expected an object or null"
    if record.get("weather") is not None and not isinstance(record["weather"], dict):
        return "weather: expected an object or null"
    return None
