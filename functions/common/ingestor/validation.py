"""Schema and sanity checks on one raw HA event, before anything downstream trusts its shape.

An event that fails is dead-lettered with the reason this module returns, so every reason names
the field and the problem in words a user can act on. Values quoted in reasons are shortened:
a hostile event must not turn into a hostile log line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeGuard

from ingestor import jsoncodec, settings
from ingestor.errors import Invalid
from ingestor.settings import setting
from ingestor.timeutil import format_timestamp, parse_text, parse_timestamp

DEFAULT_EVENT_TYPES: frozenset[str] = frozenset({
    "state_changed", "call_service", "automation_triggered", "script_started",
    "homeassistant_start", "homeassistant_started", "homeassistant_stop", "homeassistant_final_write",
    "device_registry_updated", "entity_registry_updated", "area_registry_updated",
    "service_registered", "component_loaded", "core_config_updated", "logbook_entry",
    "ha_disconnected", "ha_reconnected",  # the bridge's own record of a gap when HA has no logbook
})

# HA caps event types at 64 characters; integrations use dots and dashes (ios.action_fired, shelly.click).
EVENT_TYPE = re.compile(r"[A-Za-z0-9_.:-]{1,64}", re.ASCII)
# HA's own entity id rule (homeassistant.core.VALID_ENTITY_ID), ASCII only, used with fullmatch so
# a trailing newline does not slip through as it does with HA's `$`.
ENTITY_ID = re.compile(r"(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)", re.ASCII)
MAX_ENTITY_ID_LENGTH = 255  # HA's MAX_LENGTH_STATE_ENTITY_ID
MAX_CONTEXT_ID_LENGTH = 64
ORIGINS = ("LOCAL", "REMOTE")


def is_entity_id(value: object) -> TypeGuard[str]:
    """Whether HA would accept `value` as an entity id ("domain.object_id")."""
    return (isinstance(value, str) and len(value) <= MAX_ENTITY_ID_LENGTH
            and ENTITY_ID.fullmatch(value) is not None)


def is_event_type_name(value: str) -> bool:
    """EVENT_TYPE.fullmatch of a str, remembered per name: a home sends a few dozen event types, every event and
    record one of them (validate's and write's checks ask it of each)."""
    found = _type_names.get(value)
    if found is None:
        if len(_type_names) > 10_000:
            _type_names.clear()
        found = _type_names[value] = EVENT_TYPE.fullmatch(value) is not None
    return found


_type_names: dict[str, bool] = {}


def _event_types(raw: str) -> frozenset[str] | None:
    names = [item.strip() for item in raw.split(",") if item.strip()]
    if "*" in names:
        return None
    if not names:
        raise ValueError("lists no event type; use * to accept all")
    for name in names:
        if not EVENT_TYPE.fullmatch(name):
            raise ValueError(f"{name!r} is not an event type name")
    return frozenset(names)


@dataclass(frozen=True)
class ValidationRules:
    event_types: frozenset[str] | None = setting("VALIDATE_EVENT_TYPES", DEFAULT_EVENT_TYPES, parse=_event_types)
    """Accepted event types (a comma list); None ("*") accepts every type."""
    max_event_bytes: int = setting("VALIDATE_MAX_EVENT_BYTES", 262144)
    max_future_seconds: float = setting("VALIDATE_MAX_FUTURE_SECONDS", 300.0)
    min_year: int = setting("VALIDATE_MIN_YEAR", 2000)
    max_state_length: int = 255
    max_depth: int = setting("VALIDATE_MAX_DEPTH", 64, minimum=4, maximum=jsoncodec.MAX_DEPTH)
    """How deep objects and arrays may nest in an event (HA's own run about 6 levels; an event's attributes sit
    4 levels down)."""


def load_rules() -> ValidationRules:
    """The rules from VALIDATE_EVENT_TYPES, VALIDATE_MAX_EVENT_BYTES, VALIDATE_MAX_FUTURE_SECONDS, VALIDATE_MIN_YEAR
    and VALIDATE_MAX_DEPTH; ConfigError naming the variable on a bad value."""
    return settings.load(ValidationRules)


class _Invalid(Exception):
    pass


def _fail(field: str, problem: str) -> NoReturn:
    raise _Invalid(f"{field}: {problem}")


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _kind(value: object) -> str:
    """The JSON name of a value's type, as the sender would recognise it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), type(value).__name__)


def _require(obj: dict[str, Any], key: str, field: str) -> Any:
    if key not in obj:
        _fail(field, "missing")
    return obj[key]


def _object(obj: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    value = _require(obj, key, field)
    if not isinstance(value, dict):
        _fail(field, f"expected an object, got {_kind(value)}")
    return value


def _string(value: object, field: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        _fail(field, f"expected a string, got {_kind(value)}")
    if max_length is not None and len(value) > max_length:
        _fail(field, f"{len(value)} characters exceeds the limit of {max_length}")
    return value


def _name(obj: dict[str, Any], key: str, field: str, max_length: int | None = None) -> str:
    value = _string(_require(obj, key, field), field, max_length)
    if not value:
        _fail(field, "is empty")
    return value


_MISSING = object()


def _timestamp(obj: dict[str, Any], key: str, field: str) -> datetime:
    value = obj.get(key, _MISSING)  # five per state change: _require's check, without its call
    if value is _MISSING:
        _fail(field, "missing")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        _fail(field, str(exc))


def _entity_id(value: object, field: str) -> str:
    if not is_entity_id(value):
        _fail(field, f"{_show(value)} is not a valid entity id")
    return value


def _check_state(state: object, field: str, entity_id: str, rules: ValidationRules) -> None:
    if not isinstance(state, dict):
        _fail(field, f"expected an object or null, got {_kind(state)}")
    own_id = _require(state, "entity_id", f"{field}.entity_id")
    if own_id != entity_id:
        _fail(f"{field}.entity_id", f"{_show(own_id)} does not match data.entity_id {_show(entity_id)}")
    _string(_require(state, "state", f"{field}.state"), f"{field}.state", rules.max_state_length)
    _object(state, "attributes", f"{field}.attributes")
    _timestamp(state, "last_changed", f"{field}.last_changed")
    _timestamp(state, "last_updated", f"{field}.last_updated")


def _check_state_changed(data: dict[str, Any], rules: ValidationRules) -> None:
    entity_id = _entity_id(_require(data, "entity_id", "data.entity_id"), "data.entity_id")
    new_state, old_state = data.get("new_state"), data.get("old_state")
    if new_state is None and old_state is None:
        _fail("data", "new_state and old_state are both null")
    for key, state in (("new_state", new_state), ("old_state", old_state)):
        if state is not None:
            _check_state(state, f"data.{key}", entity_id, rules)


def _check_call_service(data: dict[str, Any], rules: ValidationRules) -> None:
    _name(data, "domain", "data.domain")
    _name(data, "service", "data.service")


def _check_run(data: dict[str, Any], rules: ValidationRules) -> None:
    if data.get("entity_id") is not None:
        _entity_id(data["entity_id"], "data.entity_id")


_DATA_CHECKS: dict[str, Callable[[dict[str, Any], ValidationRules], None]] = {
    "state_changed": _check_state_changed,
    "call_service": _check_call_service,
    "automation_triggered": _check_run,
    "script_started": _check_run,
}


def _check(event: object, rules: ValidationRules, now: datetime) -> bytes:
    """The event's JSON when it is sound (measured for the size check, so validate passes it on as it is)."""
    if not isinstance(event, dict):
        _fail("event", f"expected an object, got {_kind(event)}")
    # Depth, then size: serializing for the size check is only safe on a value of bounded depth, and
    # everything after it (and the reasons it quotes) then works on bounded input. Both in one encoding when
    # the event is sound; asked one by one, for the reason, when it is not.
    encoded = jsoncodec.dumps_within(event, rules.max_depth)
    if encoded is None:
        too_deep = jsoncodec.depth_problem(event, rules.max_depth)
        if too_deep:
            _fail("event", too_deep)
        try:
            encoded = jsoncodec.dumps(event)
        except jsoncodec.EncodeError as exc:
            _fail("event", f"cannot be encoded as JSON ({exc})")
    if len(encoded) > rules.max_event_bytes:
        _fail("event", f"{len(encoded)} bytes exceeds the {rules.max_event_bytes}-byte limit")

    event_type = _name(event, "event_type", "event_type")
    if not EVENT_TYPE.fullmatch(event_type):
        _fail("event_type", f"{_show(event_type)} is not a valid event type (letters, digits, _ . : -, at most 64)")
    if rules.event_types is not None and event_type not in rules.event_types:
        _fail("event_type", f"{_show(event_type)} is not an accepted event type")

    fired = _timestamp(event, "time_fired", "time_fired")
    if fired.year < rules.min_year:
        _fail("time_fired", f"{format_timestamp(fired)} is before the year {rules.min_year}")
    ahead = (fired - now).total_seconds()
    if ahead > rules.max_future_seconds:
        _fail("time_fired", f"{format_timestamp(fired)} is {ahead:.0f} s in the future "
                            f"(limit {rules.max_future_seconds:g} s)")

    origin = event.get("origin")
    if origin is not None and origin not in ORIGINS:
        _fail("origin", f"{_show(origin)} is not LOCAL or REMOTE")

    context = _object(event, "context", "context")
    _name(context, "id", "context.id", MAX_CONTEXT_ID_LENGTH)
    for key in ("parent_id", "user_id"):
        if context.get(key) is not None:
            _string(context[key], f"context.{key}", MAX_CONTEXT_ID_LENGTH)

    data = _object(event, "data", "data")
    check = _DATA_CHECKS.get(event_type)
    if check is not None:
        check(data, rules)
    return encoded


def encoded_if_sound(event: object, rules: ValidationRules, now: datetime) -> bytes | None:
    """The event's JSON when every check of _check passes, asked in as few steps as a sound event allows; None
    when any might not, and _check then asks them one by one to name the reason. It accepts nothing _check
    refuses (each test below is one of _check's, or stricter); depth is not asked: the caller has bounded it."""
    if type(event) is not dict:
        return None
    try:
        encoded = jsoncodec.dumps(event)
        if len(encoded) > rules.max_event_bytes:
            return None
        event_type = event["event_type"]
        if (type(event_type) is not str or not is_event_type_name(event_type)
                or (rules.event_types is not None and event_type not in rules.event_types)):
            return None
        fired = event["time_fired"]
        if type(fired) is not str:
            return None
        fired = parse_text(fired)
        if fired.year < rules.min_year or (fired - now).total_seconds() > rules.max_future_seconds:
            return None
        origin = event.get("origin")
        if origin is not None and origin not in ORIGINS:
            return None
        context, data = event["context"], event["data"]
        if type(context) is not dict or type(data) is not dict:
            return None
        context_id, parent_id, user_id = context["id"], context.get("parent_id"), context.get("user_id")
        if (type(context_id) is not str or not 0 < len(context_id) <= MAX_CONTEXT_ID_LENGTH
                or (parent_id is not None and (type(parent_id) is not str or len(parent_id) > MAX_CONTEXT_ID_LENGTH))
                or (user_id is not None and (type(user_id) is not str or len(user_id) > MAX_CONTEXT_ID_LENGTH))):
            return None
        if event_type == "state_changed":
            entity_id = data["entity_id"]
            new_state, old_state = data.get("new_state"), data.get("old_state")
            if not is_entity_id(entity_id) or (new_state is None and old_state is None):
                return None
            for state in (new_state, old_state):
                if state is not None and not _state_sound(state, entity_id, rules.max_state_length):
                    return None
        elif event_type == "call_service":
            domain, service = data["domain"], data["service"]
            if type(domain) is not str or type(service) is not str or not domain or not service:
                return None
        elif event_type in _RUNS:
            entity_id = data.get("entity_id")
            if entity_id is not None and not is_entity_id(entity_id):
                return None
    except (KeyError, TypeError, ValueError, jsoncodec.EncodeError):
        return None
    return encoded


def _state_sound(state: object, entity_id: str, max_length: int) -> bool:
    """Whether _check_state passes `state` (the same tests, asked at once)."""
    if type(state) is not dict:
        return False
    text, changed, updated = state["state"], state["last_changed"], state["last_updated"]
    if (state["entity_id"] != entity_id or type(text) is not str or len(text) > max_length
            or type(state["attributes"]) is not dict or type(changed) is not str or type(updated) is not str):
        return False
    parse_text(changed)  # ValueError when it is not a timestamp
    parse_text(updated)
    return True


_RUNS = frozenset(name for name, check in _DATA_CHECKS.items() if check is _check_run)


def checker(rules: ValidationRules, depth_bounded: bool = False) -> Callable[[Any], Any]:
    """validate's stage check: the event as it came, already encoded (a fragment the batch it is published in
    takes as it is), or Invalid with the one reason it fails.

    `depth_bounded`: the stage has already refused every event nested deeper than rules.max_depth (the Stage's
    max_depth, asked of the whole batch in one encoding), so a sound event is encoded once, plainly, instead of
    inside the depth shell, which costs several times a plain encoding."""

    def check(event: Any) -> Any:
        now = datetime.now(UTC)
        if depth_bounded:
            encoded = encoded_if_sound(event, rules, now)
            if encoded is not None:
                return jsoncodec.Fragment(encoded)
        try:
            return jsoncodec.Fragment(_check(event, rules, now))
        except _Invalid as exc:
            raise Invalid(str(exc)) from None

    return check


def validate_event(event: object, rules: ValidationRules, now: datetime | None = None) -> str | None:
    """None when `event` (the `event` object of an HA event message) is sound, else one reason.

    `now` (aware) is the reference for the future-time check; it defaults to the current UTC time.
    """
    try:
        _check(event, rules, now or datetime.now(UTC))
    except _Invalid as exc:
        return str(exc)
    return None
