"""The event record: what normalize makes of every HA event, and what every later stage, store and query reads.

Defined once, here: its fields and their kinds, the constructor every producer uses (normalize, context-poll,
sports-poll) and the check run at write's input. A store maps the record to its own rows (columns, tags,
fields) inside the store, from the field lists below. docs/design.md describes each field.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ingestor.errors import Invalid
from ingestor.timeutil import parse_text, parse_timestamp
from ingestor.validation import MAX_CONTEXT_ID_LENGTH, is_event_type_name


class Context(TypedDict):
    """HA's context of the event: what caused it (a user, an automation run, a parent context)."""

    id: str | None
    parent_id: str | None
    user_id: str | None


class EventRecord(TypedDict):
    event_id: str
    """32 hex characters, a hash of the HA event (ingestor.event_id): a replay collides with what is stored."""
    event_type: str
    time_fired: str
    """ISO 8601 UTC with microseconds and a Z, fixed width (ingestor.timeutil.format_timestamp)."""
    origin: str | None
    entity_id: str | None
    domain: str | None
    state: str | None
    old_state: str | None
    state_value: float | None
    """The state as a number (numeric or two-valued states), else null."""
    unit: str | None
    device_class: str | None
    friendly_name: str | None
    attributes: dict[str, Any]
    duration_in_state: float | None
    """Seconds the old state lasted, when this event ended it."""
    context: Context
    device_id: str | None
    area_id: str | None
    device_manufacturer: str | None
    device_model: str | None
    weather: dict[str, Any] | None
    """The latest weather values when the event passed weather-enrich, with their age; null without any."""
    data: Any
    """The payload of a non-state event (call_service, automation_triggered…); null for state changes."""


class EnrichedRecord(EventRecord, total=False):
    """A record after weather-enrich: the other configured context sources' values under their own names."""

    air_quality: dict[str, Any] | None
    carbon_intensity: dict[str, Any] | None
    electricity_price: dict[str, Any] | None


class BackfillMark(TypedDict):
    """On the record of an event the bridge rebuilt from HA's history or logbook, and only there
    (gateway-bridge/README.md, Backfill): where it came from and which context fields HA could not give back."""

    source: str
    """"history" or "logbook"."""
    unknown: list[str]
    """Of CONTEXT_KEYS: what the trace view shows as unknown instead of linking it wrongly."""


BACKFILL = "backfill"
"""The optional field holding a BackfillMark (stores keep it with the other optional values)."""
FIELDS: tuple[str, ...] = tuple(EventRecord.__annotations__)
"""The fields every record has, in the order of docs/design.md."""
OPTIONAL_FIELDS: tuple[str, ...] = tuple(name for name in EnrichedRecord.__annotations__ if name not in FIELDS)
"""The context values a record has once weather-enrich attached them."""
CONTEXT_SOURCES = ("weather", *OPTIONAL_FIELDS)
"""The context sources (ingestor.context) weather-enrich attaches, each under its own name."""
CONTEXT_KEYS = tuple(Context.__annotations__)
TEXT_FIELDS = ("event_type", "origin", "entity_id", "domain", "state", "old_state", "unit", "device_class",
               "friendly_name", "device_id", "area_id", "device_manufacturer", "device_model")
NUMBER_FIELDS = ("state_value", "duration_in_state")
OBJECT_FIELDS = ("attributes", "context", *CONTEXT_SOURCES)

_HEX = "0123456789abcdef"
MAX_NAME = 255  # characters: HA's own limit for entity ids and states; the stores' dictionaries keep names alike
_KNOWN = frozenset(FIELDS) | frozenset(OPTIONAL_FIELDS) | {BACKFILL}
_NUMBER_TYPES = frozenset({type(None), float, int})
_OBJECT_TYPES = frozenset({type(None), dict})


def new(event_id: str, event_type: str, time_fired: str, *, origin: str | None = None, entity_id: str | None = None,
        domain: str | None = None, state: str | None = None, old_state: str | None = None,
        state_value: float | None = None, unit: str | None = None, device_class: str | None = None,
        friendly_name: str | None = None, attributes: dict[str, Any] | None = None,
        duration_in_state: float | None = None, context: Context | None = None, device_id: str | None = None,
        area_id: str | None = None, device_manufacturer: str | None = None, device_model: str | None = None,
        weather: dict[str, Any] | None = None, data: Any = None) -> EventRecord:
    """A record with every field: what is not given is null (attributes empty, context ids null)."""
    return {"event_id": event_id, "event_type": event_type, "time_fired": time_fired, "origin": origin,
            "entity_id": entity_id, "domain": domain, "state": state, "old_state": old_state,
            "state_value": state_value, "unit": unit, "device_class": device_class, "friendly_name": friendly_name,
            "attributes": {} if attributes is None else attributes, "duration_in_state": duration_in_state,
            "context": {"id": None, "parent_id": None, "user_id": None} if context is None else context,
            "device_id": device_id, "area_id": area_id, "device_manufacturer": device_manufacturer,
            "device_model": device_model, "weather": weather, "data": data}


def check(value: Any) -> EnrichedRecord:
    """write's stage check: the record, or Invalid naming why a store cannot take it."""
    reason = problem(value)
    if reason:
        raise Invalid(reason)
    return value  # type: ignore[no-any-return]


def problem(record: Any) -> str | None:
    """Why `record` is not an event record a store can take, or None. Run once, at write's input."""
    if not isinstance(record, dict):
        return "record: expected an object"
    event_id = record.get("event_id")
    if not isinstance(event_id, str) or len(event_id) != 32 or event_id.strip(_HEX):  # stripped empty: all hex
        return "event_id: expected 32 lowercase hex characters"
    event_type = record.get("event_type")
    if not isinstance(event_type, str) or not is_event_type_name(event_type):
        return "event_type: expected letters, digits, _ . : - (1 to 64), as validate accepts"
    fired = record.get("time_fired")
    try:
        parse_text(fired) if type(fired) is str else parse_timestamp(fired)  # parse_text: the same, one call fewer
    except ValueError as exc:
        return f"time_fired: {exc}"
    if not record.keys() <= _KNOWN:
        return f"{sorted(record.keys() - _KNOWN)[0][:60]!r}: not a field of the event record"
    get = record.get
    if not _plain_texts([v for v in map(get, TEXT_FIELDS) if v is not None], MAX_NAME):
        for name in TEXT_FIELDS:
            value = get(name)
            if value is not None:
                if not isinstance(value, str):
                    return f"{name}: expected a string or null"
                if found := _text_problem(name, value, MAX_NAME):
                    return found
    # The types of the numbers and of the objects, each set asked at once; field by field only when one is not
    # exactly what nearly every record holds (a subclass passes there too), to name the field.
    if not set(map(type, map(get, NUMBER_FIELDS))) <= _NUMBER_TYPES:
        for name in NUMBER_FIELDS:
            value = get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                return f"{name}: expected a number or null"
    if not set(map(type, map(get, OBJECT_FIELDS))) <= _OBJECT_TYPES:
        for name in OBJECT_FIELDS:
            value = get(name)
            if value is not None and not isinstance(value, dict):
                return f"{name}: expected an object or null"
    context = get("context") or {}
    if not _plain_texts([v for v in context.values() if v is not None], MAX_CONTEXT_ID_LENGTH):
        for key, value in context.items():
            if value is not None:
                if not isinstance(value, str):
                    return f"context.{key}: expected a string or null"
                if found := _text_problem(f"context.{key}", value, MAX_CONTEXT_ID_LENGTH):
                    return found
    return None


def _plain_texts(values: list[Any], limit: int) -> bool:
    """Whether every value is ASCII text without a NUL and at most `limit` characters long: what nearly every
    record's texts are, asked of them all at once (the field by field checks then name the one that is not)."""
    try:
        joined = "".join(values)
    except TypeError:  # not all text
        return False
    return joined.isascii() and "\x00" not in joined and (len(joined) <= limit or max(map(len, values)) <= limit)


def _text_problem(name: str, value: str, limit: int) -> str | None:
    """A text one backend would refuse is refused for every backend, alone, with its reason, instead of failing
    its whole batch in one database and passing in another: a NUL (PostgreSQL cannot store one), text that is
    not UTF-8, a string longer than the stores' dictionaries keep. Nothing is ever cut short silently."""
    if len(value) > limit:
        return f"{name}: {len(value)} characters, at most {limit} are kept (refused, not shortened)"
    if "\x00" in value:
        return f"{name}: contains a NUL character, which the store cannot keep"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name}: not valid UTF-8 text"
    return None
