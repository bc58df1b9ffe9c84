"""An event record split into what repeats (its series and its JSON documents) and what is its own (a Row).

Both tiers of the SQL store keep Rows: the hot tier one per table row, the cold tier column by column in
blocks (store/blocks.py). A series is the tuple of an event's descriptive strings (entity, domain, area,
device, names, unit…), which change rarely, so each distinct tuple is stored once and events point at it.
Attributes, `data` and the enrichment values (`weather` and the keys later stages add) are JSON documents,
stored once per distinct content (hash of the exact bytes, so key order is kept) and pointed at by id.
Enrichment carries an `age_s` per source that differs from event to event; its numbers are cut out of the
document (into `ages`) so the document itself repeats for every event until the next fetch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ingestor import jsoncodec
from ingestor.record import FIELDS
from ingestor.store.timerange import from_micros, to_micros
from ingestor.timeutil import format_timestamp, parse_timestamp

SERIES_FIELDS = ("event_type", "entity_id", "domain", "area_id", "device_id", "unit", "device_class",
                 "friendly_name", "origin", "device_manufacturer", "device_model")
ROW_FIELDS = ("event_id", "time_fired", "state", "old_state", "state_value", "duration_in_state", "attributes",
              "context", "data", "weather")
RECORD_KEYS = frozenset(FIELDS)  # the record's own fields (ingestor.record); the rest are enrichment, kept as JSON
if frozenset(SERIES_FIELDS) | frozenset(ROW_FIELDS) != RECORD_KEYS:  # the split must cover the record, no more
    raise ImportError(f"store rows leave out or add: {sorted(RECORD_KEYS ^ {*SERIES_FIELDS, *ROW_FIELDS})}")

Series = tuple[str | None, ...]  # values of SERIES_FIELDS, in that order


class Row(NamedTuple):
    """One event without its series. Document ids: 0 is "none" ({} for attributes)."""

    eid: bytes  # the 16 bytes of event_id
    ts: int  # time_fired, microseconds since the epoch (UTC)
    state: str | None
    old_state: str | None
    value: float | None
    duration: float | None
    attrs: int
    ctx: str | None
    parent: str | None
    user: str | None
    enrich: int  # [weather, extra keys] with every age_s number cut out
    ages: str | None  # those numbers, in document order, comma-joined
    data: int


# `"age_s":<number>` as a key of an object: outside strings a `{` or `,` comes right before a key's opening
# quote; inside a string that quote would be escaped, so these bytes never occur within a value.
_KEY = b'"age_s":'
_NUMBER = re.compile(rb"-?[0-9][0-9.eE+-]*")
_MARK = b'"age_s":#'  # `#` cannot follow a colon in JSON, so a template never holds it otherwise


def cut_ages(body: bytes) -> tuple[bytes, str | None]:
    if _KEY not in body:
        return body, None
    parts = body.split(_KEY)
    ages: list[str] = []
    out = [parts[0]]
    for before, part in zip(parts, parts[1:], strict=False):
        number = _NUMBER.match(part) if before[-1:] in (b"{", b",") else None
        if number is None:
            out.append(part)
        else:
            ages.append(number.group().decode())
            out.append(b"#" + part[number.end():])
    return (_KEY.join(out), ",".join(ages)) if ages else (body, None)


def put_ages(template: bytes, ages: str | None) -> bytes:
    if not ages:
        return template
    parts = template.split(_MARK)
    numbers = ages.split(",")
    if len(numbers) != len(parts) - 1:
        raise ValueError("stored ages do not fit their document")
    out = [parts[0]]
    for number, part in zip(numbers, parts[1:], strict=True):
        out += [b'"age_s":', number.encode(), part]
    return b"".join(out)


def series_of(record: dict[str, Any]) -> Series:
    return tuple(map(record.get, SERIES_FIELDS))


_DAY_NUMBERS: dict[str, int] = {}


def micros_of(text: str) -> int:
    """time_fired in µs; the stored form ("2026-11-20T12:00:00.000000Z") without a datetime."""
    if len(text) == 27 and text[26] == "Z" and text[10] == "T" and text[19] == ".":
        day = _DAY_NUMBERS.get(text[:10])
        if day is None:
            if len(_DAY_NUMBERS) > 4096:
                _DAY_NUMBERS.clear()
            day = _DAY_NUMBERS[text[:10]] = to_micros(parse_timestamp(text[:10] + "T00:00:00Z")) // 86_400_000_000
        return (((day * 24 + int(text[11:13])) * 60 + int(text[14:16])) * 60 + int(text[17:19])) * 1_000_000 \
            + int(text[20:26])
    return to_micros(parse_timestamp(text))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def split(record: dict[str, Any], doc: Callable[[bytes], int], ts: int | None = None,
          eid: bytes | None = None) -> Row:
    """The record's Row; `doc` stores a JSON document (once) and returns its id. `ts` (micros_of its time_fired)
    and `eid` (its event_id's bytes): when the caller has them already."""
    context = record.get("context") or {}
    attributes = record.get("attributes")
    others = record.keys() - RECORD_KEYS
    # Several in the record's order (the document's bytes are kept, and hashed by the archive); none or one (a home
    # with weather and one more context source) without a walk over every field.
    extra = {k: v for k, v in record.items() if k in others} if len(others) > 1 else {k: record[k] for k in others}
    weather = record.get("weather")
    enrich, ages = 0, None
    if weather is not None or extra:
        template, ages = cut_ages(jsoncodec.dumps([weather, extra]))
        enrich = doc(template)
    data = record.get("data")
    return Row(bytes.fromhex(record["event_id"]) if eid is None else eid,
               micros_of(record["time_fired"]) if ts is None else ts,
               record.get("state"), record.get("old_state"), _number(record.get("state_value")),
               _number(record.get("duration_in_state")), doc(jsoncodec.dumps(attributes)) if attributes else 0,
               context.get("id"), context.get("parent_id"), context.get("user_id"), enrich, ages,
               0 if data is None else doc(jsoncodec.dumps(data)))


_DAYS: dict[int, str] = {}


def stamp(micros: int) -> str:
    """format_timestamp of a time in microseconds (the date part computed once per day)."""
    day, rest = divmod(micros, 86_400_000_000)
    prefix = _DAYS.get(day)
    if prefix is None:
        if len(_DAYS) > 4096:
            _DAYS.clear()
        prefix = _DAYS[day] = format_timestamp(from_micros(day * 86_400_000_000))[:11]
    seconds, micro = divmod(rest, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}Z"


def join(row: Row, series: Series, doc: Callable[[int], bytes]) -> dict[str, Any]:
    """The record back, field for field as it was written (state_value and durations as floats), its keys in
    the order the SQL store has always returned them (the archive hashes records with their key order)."""
    record: dict[str, Any] = {
        "event_id": row.eid.hex(), "event_type": series[0], "origin": series[8], "entity_id": series[1],
        "domain": series[2], "state": row.state, "old_state": row.old_state, "state_value": row.value,
        "unit": series[5], "device_class": series[6], "friendly_name": series[7], "duration_in_state": row.duration,
        "device_id": series[4], "area_id": series[3], "device_manufacturer": series[9], "device_model": series[10],
        "time_fired": stamp(row.ts), "context": {"id": row.ctx, "parent_id": row.parent, "user_id": row.user},
        "attributes": jsoncodec.loads(doc(row.attrs)) if row.attrs else {}, "weather": None,
        "data": jsoncodec.loads(doc(row.data)) if row.data else None,
    }
    if row.enrich:
        weather, extra = jsoncodec.loads(put_ages(doc(row.enrich), row.ages))
        record["weather"] = weather
        record.update(extra)
    return record
