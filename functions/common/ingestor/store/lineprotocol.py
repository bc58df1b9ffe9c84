"""Event records as InfluxDB line protocol, with field types fixed forever.

InfluxDB keeps a field's first type; HA users' most common InfluxDB failure is a type conflict.
So `state` is always a string, `state_value` and `duration_in_state` always floats (1 is written
as 1.0), JSON goes in strings, and a null or non-finite value is left out, never written as 0.
"""

from __future__ import annotations

import math
from typing import Any

from ingestor import jsoncodec
from ingestor.record import FIELDS
from ingestor.store.timerange import from_micros, to_micros
from ingestor.timeutil import format_timestamp, parse_timestamp
from ingestor.validation import EVENT_TYPE

TAGS = ("entity_id", "domain", "device_class", "area_id", "device_id", "event_type")
STRING_FIELDS = ("event_id", "state", "old_state", "friendly_name", "unit", "origin", "device_manufacturer",
                 "device_model")
FLOAT_FIELDS = ("state_value", "duration_in_state")
JSON_FIELDS = ("attributes", "data")
WEATHER_FLOATS = ("temperature", "humidity", "pressure", "wind_speed")
WEATHER_STRINGS = ("condition", "fetched_at")
ONE = "one"  # 1 on every event point: counted instead of event_id, cheaply (influxones.py)
KNOWN = frozenset(FIELDS)  # the other context sources go to the string field `extra`


def _escape_tag(value: str) -> str:
    r"""InfluxDB 1.x unescapes only `\,` `\=` `\ ` in a tag, so a backslash is written as it is."""
    return value.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _measurement(event_type: str) -> str:
    """The event type as it is, or ValueError: the validated form needs no escaping, while a newline or a
    leading `#` (a comment line, silently dropped) cannot be written as a measurement at all."""
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
        raise ValueError(f"event_type {event_type!r:.80} is not a valid event type; refusing it as a measurement")
    return event_type


def _tag_value(value: str) -> str:
    """A newline cannot be written in a tag (it ends the line): it becomes a space. A value may not end in
    a backslash (it would escape the delimiter after it): one space is appended."""
    value = value.replace("\n", " ")
    return _escape_tag(value + " " if value.endswith("\\") else value)


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _float(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return repr(number) if math.isfinite(number) else None


def point(record: dict[str, Any]) -> str:
    """One line: measurement = event type; tags = the indexed dimensions; fields = the rest."""
    tags = "".join(f",{t}={_tag_value(record[t])}" for t in TAGS if record.get(t))
    fields: list[str] = [f"{ONE}=1i"]
    for name in STRING_FIELDS:
        if record.get(name) is not None:
            fields.append(f"{name}={_string(str(record[name]))}")
    for name in FLOAT_FIELDS:
        value = _float(record.get(name))
        if value is not None:
            fields.append(f"{name}={value}")
    for name in JSON_FIELDS:
        if record.get(name) not in (None, {}):
            fields.append(f"{name}={_string(jsoncodec.dumps(record[name]).decode())}")
    context = record.get("context") or {}
    for key in ("id", "parent_id", "user_id"):
        if context.get(key):
            fields.append(f"context_{key}={_string(str(context[key]))}")
    weather = record.get("weather") or {}
    for key in WEATHER_FLOATS:
        value = _float(weather.get(key))
        if value is not None:
            fields.append(f"weather_{key}={value}")
    for key in WEATHER_STRINGS:
        if weather.get(key) is not None:
            fields.append(f"weather_{key}={_string(str(weather[key]))}")
    extra = {k: v for k, v in record.items() if k not in KNOWN}
    if extra:
        fields.append(f"extra={_string(jsoncodec.dumps(extra).decode())}")
    micros = to_micros(parse_timestamp(record["time_fired"]))
    return f"{_measurement(record['event_type'])}{tags} {','.join(fields)} {micros}"


def record_from(columns: dict[str, Any], micros: int, measurement: str) -> dict[str, Any]:
    """The event record back from one row of `SELECT *` (tags and fields as columns)."""

    def text(name: str) -> str | None:
        value = columns.get(name)
        return None if value in (None, "") else str(value)

    def number(name: str) -> float | None:
        """A float field as a float: InfluxDB's JSON answers 21.0 as 21, which would read back as an int."""
        value = columns.get(name)
        return None if value is None else float(value)

    weather = {k: number(f"weather_{k}") if k in WEATHER_FLOATS else columns[f"weather_{k}"]
               for k in (*WEATHER_FLOATS, *WEATHER_STRINGS) if columns.get(f"weather_{k}") is not None}
    record: dict[str, Any] = {
        "event_id": columns.get("event_id"),
        "event_type": text("event_type") or measurement,
        "time_fired": format_timestamp(from_micros(micros)),
        **{name: text(name) for name in ("origin", "entity_id", "domain", "state", "old_state", "unit",
                                          "device_class", "friendly_name", "device_id", "area_id",
                                          "device_manufacturer", "device_model")},
        "state_value": number("state_value"),
        "duration_in_state": number("duration_in_state"),
        "attributes": jsoncodec.loads(columns["attributes"]) if columns.get("attributes") else {},
        "context": {"id": text("context_id"), "parent_id": text("context_parent_id"),
                    "user_id": text("context_user_id")},
        "weather": weather or None,
        "data": jsoncodec.loads(columns["data"]) if columns.get("data") else None,
    }
    if columns.get("extra"):
        record.update(jsoncodec.loads(columns["extra"]))
    return record


AGGREGATE_MEASUREMENTS = {"hour": "aggregates_hourly", "day": "aggregates_daily"}


def aggregate_point(entity_id: str, period: str, micros: int, count: int, value_count: int,
                    mean: float | None, low: float | None, high: float | None) -> str:
    """A summary point: no event_type tag, so event reads never see it; counts are integers, values floats."""
    tag = f",entity_id={_tag_value(entity_id)}" if entity_id else ""
    fields = [f"count={int(count)}i", f"value_count={int(value_count)}i"]
    for name, value in (("mean", mean), ("min", low), ("max", high)):
        number = _float(value)
        if number is not None:
            fields.append(f"{name}={number}")
    return f"{AGGREGATE_MEASUREMENTS[period]}{tag} {','.join(fields)} {micros}"
