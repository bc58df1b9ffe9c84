"""Building InfluxQL from user values: every literal escaped, every identifier ours."""

from __future__ import annotations

import datetime as dt
import re

from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros

EVENTS = '/.*/'  # every measurement; event points are told apart by their event_type tag
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


def regex_contains(value: str) -> str:
    """A case-insensitive regex literal matching `value` as a plain substring.

    InfluxQL's scanner ends a regex at `/` and treats a backslash before it as an escape, so a
    regex must never contain `\\/` or end in a backslash: both are written as hex escapes.
    """
    return "/(?i)" + "".join(_REGEX_ESCAPES.get(char) or re.escape(char) for char in value) + "/"


def time_ns(when: dt.datetime) -> str:
    return f"{to_micros(when) * 1000}"


def where(f: EventFilter, extra: list[str] | None = None) -> str:
    clauses = [IS_EVENT]
    if f.start is not None:
        clauses.append(f"time >= {time_ns(f.start)}")
    if f.end is not None:
        clauses.append(f"time < {time_ns(f.end)}")
    for name in ("entity_id", "domain", "event_type", "area_id", "device_id"):
        value = getattr(f, name)
        if value is not None:
            clauses.append(f'"{name}" = {string(value)}')
    if f.text:
        pattern = regex_contains(f.text)
        clauses.append(f'("friendly_name" =~ {pattern} OR "state" =~ {pattern})')
    clauses.extend(extra or [])
    return " AND ".join(clauses)
