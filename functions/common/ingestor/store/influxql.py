"""Building InfluxQL from user values: every literal escaped, every identifier ours."""

from __future__ import annotations

import datetime as dt
import re

from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros

EVENTS = '/.*/'  # every measurement; event points are told apart by their event_type tag
NOTHING = '/^$/'  # no measurement (none has an empty name)
IS_EVENT = "\"event_type\" != ''"


_STRING_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n"}
_REGEX_ESCAPES = {"\\": "\\x5c", "/": "\\x2f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def string(value: str) -> str:
    """A single-quoted InfluxQL string literal (which may not hold a raw line break).

    InfluxQL has no escape for a carriage return, so a value holding one is refused.
    """
    if "\r" in value:
        raise ValueError("a filter value may not contain a carriage return")
    return "'" + "".join(_STRING_ESCAPES.get(char, char) for char in value) + "'"


def identifier(name: str) -> str:
    """A double-quoted InfluxQL identifier (a measurement's name)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def regex_contains(value: str) -> str:
    """A case-insensitive regex literal matching `value` as a plain substring.

    InfluxQL's scanner ends a regex at `/` and treats a backslash before it as an escape, so a
    regex must never contain `\\/` or end in a backslash: both are written as hex escapes.
    """
    return "/(?i)" + "".join(_REGEX_ESCAPES.get(char) or re.escape(char) for char in value) + "/"


def entity_in(entities: list[str]) -> str:
    """A clause matching points of any of `entities` (not empty): InfluxQL has no IN."""
    return "(" + " OR ".join(f'"entity_id" = {string(e)}' for e in entities) + ")"


def time_ns(when: dt.datetime) -> str:
    return f"{to_micros(when) * 1000}"


def where(f: EventFilter, extra: list[str] | None = None, events_only: bool = True) -> str:
    """The filter as InfluxQL; `events_only=False` for measurements that are not events (rollups)."""
    clauses = [IS_EVENT] if events_only else []
    if f.start is not None:
        clauses.append(f"time >= {time_ns(f.start)}")
    if f.end is not None:
        clauses.append(f"time < {time_ns(f.end)}")
    for name in ("entity_id", "domain", "event_type", "area_id", "device_id", "state", "old_state"):
        value = getattr(f, name)
        if value is not None:
            clauses.append(f'"{name}" = {string(value)}')
    if f.text:
        pattern = regex_contains(f.text)
        clauses.append(f'("friendly_name" =~ {pattern} OR "state" =~ {pattern})')
    clauses.extend(extra or [])
    return " AND ".join(clauses)


_CROCKFORD = {c: i for i, c in enumerate("0123456789ABCDEFGHJKMNPQRSTVWXYZ")}
_ULID_MILLIS_FROM = 946_684_800_000  # 2000-01-01: earlier or later is not a context id of a running home
_ULID_MILLIS_TO = 7_258_118_400_000  # 2200-01-01


def ulid_time(value: str) -> dt.datetime | None:
    """The creation time a ULID carries (HA's context ids are ULIDs), or None for anything else."""
    if len(value) != 26 or any(c not in _CROCKFORD for c in value.upper()):
        return None
    millis = 0
    for char in value[:10].upper():
        millis = millis * 32 + _CROCKFORD[char]
    if not _ULID_MILLIS_FROM <= millis < _ULID_MILLIS_TO:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)
