"""validate_event: every reason an HA event is refused, and the real events that pass."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ingestor import jsoncodec
from ingestor.config import ConfigError
from ingestor.errors import Invalid
from ingestor.validation import (
    DEFAULT_EVENT_TYPES,
    ValidationRules,
    checker,
    encoded_if_sound,
    is_entity_id,
    load_rules,
    validate_event,
)
from tests.support.ha_events import recorded

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # half an hour after the samples were captured
RULES = ValidationRules()



def light_on() -> dict[str, Any]:
    return recorded("state_changed")[0]


def call_service() -> dict[str, Any]:
    """A call_service event in HA 2024.3's wire shape."""
    return {
        "event_type": "call_service",
        "data": {"domain": "input_boolean", "service": "turn_on",
                 "service_data": {"entity_id": "input_boolean.living_room_light"}},
        "origin": "LOCAL",
        "time_fired": "2026-11-22T11:27:31.768000+00:00",
        "context": {"id": "01M81G5SXSR9VEPMR50TY4GN0R", "parent_id": None,
                    "user_id": "e243fa91b1db4c91955005050c9e4671"},
    }


def other_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {**call_service(), "event_type": event_type, "data": data}


def reason(event: object, rules: ValidationRules = RULES) -> str | None:
    found = validate_event(event, rules, now=NOW)
    if not jsoncodec.nested_deeper_than(event, rules.max_depth):  # validate's stage bounds depth before its check
        fast = encoded_if_sound(event, rules, NOW)  # whose fast path passes exactly what the checks pass
        assert (fast is None) if found else (fast == jsoncodec.dumps(event)), (found, fast)
    return found


def with_new_state(**changes: object) -> dict[str, Any]:
    event = light_on()
    event["data"]["new_state"].update(changes)
    return event


# --- events that pass -------------------------------------------------------------------------

@pytest.mark.parametrize("event", [event for name in ("state_changed",
                                                      "state_changed_parent_chain",
                                                      "state_changed_same_context")
                                   for event in recorded(name)])
def test_real_ha_state_changed_events_are_valid(event: dict[str, Any]) -> None:
    assert reason(event) is None


@pytest.mark.parametrize("event", [
    call_service(),
    other_event("automation_triggered", {"name": "Count lights turned on",
                                         "entity_id": "automation.count_lights_turned_on",
                                         "source": "state of input_boolean.living_room_light"}),
    other_event("script_started", {"name": "Bump script runs", "entity_id": "script.bump_script_runs"}),
    other_event("automation_triggered", {"name": "No entity"}),
    other_event("homeassistant_started", {}),
], ids=["call_service", "automation_triggered", "script_started", "automation_without_entity", "started"])
def test_other_accepted_event_types_are_valid(event: dict[str, Any]) -> None:
    assert reason(event) is None


def test_entity_added_with_null_old_state_is_valid() -> None:
    event = light_on()
    event["data"]["old_state"] = None
    assert reason(event) is None


def test_entity_removed_with_null_new_state_is_valid() -> None:
    event = light_on()
    event["data"]["new_state"] = None
    assert reason(event) is None


def test_missing_origin_is_valid() -> None:
    event = light_on()
    del event["origin"]
    assert reason(event) is None


def test_remote_origin_is_valid() -> None:
    assert reason({**light_on(), "origin": "REMOTE"}) is None


def test_null_parent_and_user_ids_are_valid() -> None:
    assert reason({**light_on(), "context": {"id": "01M81G5SXSR9VEPMR50TY4GN0R"}}) is None


def test_any_event_type_is_accepted_when_rules_accept_all() -> None:
    assert reason(other_event("my_custom_event", {}), ValidationRules(event_types=None)) is None


def test_time_fired_exactly_at_the_future_limit_is_valid() -> None:
    assert reason({**call_service(), "time_fired": "2026-11-22T12:05:00+00:00"}) is None


def test_state_of_exactly_max_length_is_valid() -> None:
    assert reason(with_new_state(state="x" * 255)) is None


# --- the event as a whole ---------------------------------------------------------------------

@pytest.mark.parametrize(("event", "kind"), [([], "array"), ("event", "string"), (None, "null"),
                                             (7, "number")])
def test_rejects_non_object_event(event: object, kind: str) -> None:
    assert reason(event) == f"event: expected an object, got {kind}"


def test_rejects_event_over_the_size_limit_with_its_size() -> None:
    event = with_new_state(attributes={"blob": "x" * 300_000})
    size = len(jsoncodec.dumps(event))
    assert reason(event) == f"event: {size} bytes exceeds the 262144-byte limit"


def test_size_limit_comes_from_the_rules() -> None:
    assert reason(light_on(), ValidationRules(max_event_bytes=100)).startswith("event: ")


def nested(levels: int, leaf: Any) -> Any:
    """`leaf` inside `levels` objects and arrays, alternating, as a hostile attribute would be."""
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_rejects_an_event_nested_past_the_depth_limit_before_serializing_it() -> None:
    # 245 levels around a list of floats: what made orjson 3.11.4 corrupt its heap and abort validate.
    assert reason(with_new_state(attributes={"junk": nested(245, [1.5] * 4)})) == "event: nested deeper than 64 levels"


def test_an_event_of_exactly_the_depth_limit_passes() -> None:
    # event > data > new_state > attributes are 4 levels: 60 more reach the limit of 64.
    assert reason(with_new_state(attributes={"deep": nested(60, "x")})) is None
    assert reason(with_new_state(attributes={"deep": nested(61, "x")})) == "event: nested deeper than 64 levels"


def test_depth_limit_applies_to_every_event_type() -> None:
    event = other_event("homeassistant_started", {"extra": nested(100, 1)})
    assert reason(event) == "event: nested deeper than 64 levels"


def test_depth_limit_comes_from_validate_max_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALIDATE_MAX_DEPTH", "8")
    rules = load_rules()
    assert rules.max_depth == 8
    assert reason(with_new_state(attributes={"deep": nested(5, "x")}), rules) == "event: nested deeper than 8 levels"


@pytest.mark.parametrize("value", ["3", "129", "deep"])
def test_a_depth_limit_outside_4_to_128_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch,
                                                                 value: str) -> None:
    monkeypatch.setenv("VALIDATE_MAX_DEPTH", value)
    with pytest.raises(ConfigError):
        load_rules()


def test_rejects_values_json_cannot_hold() -> None:
    assert reason({**call_service(), "data": {"tags": {1, 2}}}).startswith("event: cannot be encoded as JSON")


# --- event_type ------------------------------------------------------------------------------

def test_rejects_missing_event_type() -> None:
    event = call_service()
    del event["event_type"]
    assert reason(event) == "event_type: missing"


@pytest.mark.parametrize(("value", "kind"), [(None, "null"), (5, "number"), (["state_changed"], "array")])
def test_rejects_non_string_event_type(value: object, kind: str) -> None:
    assert reason({**call_service(), "event_type": value}) == f"event_type: expected a string, got {kind}"


def test_rejects_empty_event_type() -> None:
    assert reason({**call_service(), "event_type": ""}) == "event_type: is empty"


@pytest.mark.parametrize("value", ["state changed", "x" * 65, "état", "a\n", "a/b", "{x}"])
def test_rejects_malformed_event_type(value: str) -> None:
    text = reason({**call_service(), "event_type": value})
    assert text.startswith("event_type: ")
    assert text.endswith(" is not a valid event type (letters, digits, _ . : -, at most 64)")


def test_malformed_event_type_reason_quotes_the_value() -> None:
    assert reason({**call_service(), "event_type": "a b"}) == (
        "event_type: 'a b' is not a valid event type (letters, digits, _ . : -, at most 64)")


@pytest.mark.parametrize("value", ["ios.action_fired", "shelly.click", "zha_event", "My-Event:1"])
def test_integration_event_types_with_dots_and_dashes_are_valid_when_accepted(value: str) -> None:
    assert reason(other_event(value, {}), ValidationRules(event_types=None)) is None


def test_rejects_event_type_not_accepted_by_the_rules() -> None:
    assert reason(other_event("foo_bar", {})) == "event_type: 'foo_bar' is not an accepted event type"


def test_huge_event_type_is_quoted_shortened() -> None:
    text = reason({**call_service(), "event_type": "A" * 200_000})
    assert text.startswith("event_type: 'AAAA")
    assert len(text) < 150


# --- time_fired ------------------------------------------------------------------------------

def test_rejects_missing_time_fired() -> None:
    event = light_on()
    del event["time_fired"]
    assert reason(event) == "time_fired: missing"


def test_rejects_naive_time_fired() -> None:
    assert reason({**light_on(), "time_fired": "2026-11-22T11:27:31.769542"}) == (
        "time_fired: '2026-11-22T11:27:31.769542' has no timezone offset")


def test_rejects_unparseable_time_fired() -> None:
    assert reason({**light_on(), "time_fired": "just now"}) == (
        "time_fired: 'just now' is not an ISO 8601 timestamp")


def test_rejects_numeric_time_fired() -> None:
    assert reason({**light_on(), "time_fired": 1763810851}) == (
        "time_fired: expected an ISO 8601 timestamp string, got int")


def test_rejects_time_fired_before_min_year() -> None:
    assert reason({**light_on(), "time_fired": "1999-12-31T23:59:59+00:00"}) == (
        "time_fired: 1999-12-31T23:59:59.000000Z is before the year 2000")


def test_rejects_time_fired_too_far_in_the_future() -> None:
    assert reason({**light_on(), "time_fired": "2026-11-22T13:00:00+00:00"}) == (
        "time_fired: 2026-11-22T13:00:00.000000Z is 3600 s in the future (limit 300 s)")


def test_future_limit_defaults_to_the_current_time() -> None:
    assert validate_event({**call_service(), "time_fired": "2999-01-01T00:00:00Z"}, RULES).endswith(
        "in the future (limit 300 s)")


# --- origin and context ----------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["local", "CLOUD", "", 1])
def test_rejects_unknown_origin(origin: object) -> None:
    assert reason({**light_on(), "origin": origin}) == f"origin: {origin!r} is not LOCAL or REMOTE"


def test_rejects_missing_context() -> None:
    event = light_on()
    del event["context"]
    assert reason(event) == "context: missing"


def test_rejects_non_object_context() -> None:
    assert reason({**light_on(), "context": "01M81G5SXSR9VEPMR50TY4GN0R"}) == (
        "context: expected an object, got string")


@pytest.mark.parametrize(("context", "expected"), [
    ({"parent_id": None}, "context.id: missing"),
    ({"id": ""}, "context.id: is empty"),
    ({"id": None}, "context.id: expected a string, got null"),
    ({"id": 12}, "context.id: expected a string, got number"),
    ({"id": "x" * 65}, "context.id: 65 characters exceeds the limit of 64"),
    ({"id": "ok", "parent_id": 5}, "context.parent_id: expected a string, got number"),
    ({"id": "ok", "parent_id": "p" * 1000}, "context.parent_id: 1000 characters exceeds the limit of 64"),
    ({"id": "ok", "user_id": {"id": "u"}}, "context.user_id: expected a string, got object"),
    ({"id": "ok", "user_id": True}, "context.user_id: expected a string, got boolean"),
])
def test_rejects_malformed_context(context: dict[str, Any], expected: str) -> None:
    assert reason({**light_on(), "context": context}) == expected


# --- data ------------------------------------------------------------------------------------

def test_rejects_missing_data() -> None:
    event = call_service()
    del event["data"]
    assert reason(event) == "data: missing"


def test_rejects_non_object_data() -> None:
    assert reason({**call_service(), "data": [1, 2]}) == "data: expected an object, got array"


# --- state_changed ---------------------------------------------------------------------------

def test_rejects_state_changed_without_entity_id() -> None:
    event = light_on()
    del event["data"]["entity_id"]
    assert reason(event) == "data.entity_id: missing"


@pytest.mark.parametrize("entity_id", [
    "Sensor.Bad", "sensor", "sensor.", ".light", "_sensor.x", "sensor._x", "sensor.x_", "sensor_.x",
    "sensor.a__b", "sen__sor.a", "sensor.a.b", "sensor.a b", "sensor.ü", "sensor.١", "sensor.x\n",
    "sensor." + "a" * 250, 7, None, ["sensor.a"],
])
def test_rejects_invalid_entity_id(entity_id: object) -> None:
    event = light_on()
    event["data"]["entity_id"] = entity_id
    text = reason(event)
    assert text.startswith("data.entity_id: ")
    assert text.endswith(" is not a valid entity id")
    assert len(text) < 150


def test_invalid_entity_id_reason_quotes_the_value() -> None:
    event = light_on()
    event["data"]["entity_id"] = "Sensor.Bad"
    assert reason(event) == "data.entity_id: 'Sensor.Bad' is not a valid entity id"


@pytest.mark.parametrize("entity_id", ["sensor.a", "a.b", "sensor.1st_floor", "sensor_2.x_y_z", "zone.home"])
def test_accepts_ha_entity_ids(entity_id: str) -> None:
    assert is_entity_id(entity_id)


def test_rejects_both_states_null() -> None:
    event = light_on()
    event["data"]["new_state"] = event["data"]["old_state"] = None
    assert reason(event) == "data: new_state and old_state are both null"


def test_rejects_both_states_absent() -> None:
    event = light_on()
    del event["data"]["new_state"], event["data"]["old_state"]
    assert reason(event) == "data: new_state and old_state are both null"


@pytest.mark.parametrize(("key", "value", "kind"), [
    ("new_state", "on", "string"), ("old_state", [[[]]], "array"), ("new_state", 0, "number"),
])
def test_rejects_state_that_is_not_an_object(key: str, value: object, kind: str) -> None:
    event = light_on()
    event["data"][key] = value
    assert reason(event) == f"data.{key}: expected an object or null, got {kind}"


def test_rejects_state_object_for_another_entity() -> None:
    event = light_on()
    event["data"]["old_state"]["entity_id"] = "input_boolean.kitchen_light"
    assert reason(event) == ("data.old_state.entity_id: 'input_boolean.kitchen_light' does not match "
                             "data.entity_id 'input_boolean.living_room_light'")


@pytest.mark.parametrize("field", ["entity_id", "state", "attributes", "last_changed", "last_updated"])
def test_rejects_state_object_missing_a_field(field: str) -> None:
    event = light_on()
    del event["data"]["new_state"][field]
    assert reason(event) == f"data.new_state.{field}: missing"


@pytest.mark.parametrize(("state", "kind"), [(True, "boolean"), (21.5, "number"), (None, "null"),
                                             ({}, "object")])
def test_rejects_non_string_state(state: object, kind: str) -> None:
    assert reason(with_new_state(state=state)) == f"data.new_state.state: expected a string, got {kind}"


def test_rejects_state_longer_than_the_limit() -> None:
    assert reason(with_new_state(state="x" * 256)) == (
        "data.new_state.state: 256 characters exceeds the limit of 255")


def test_state_length_limit_comes_from_the_rules() -> None:
    assert reason(light_on(), ValidationRules(max_state_length=1)) == (
        "data.new_state.state: 2 characters exceeds the limit of 1")


def test_rejects_non_object_attributes() -> None:
    assert reason(with_new_state(attributes=["friendly_name"])) == (
        "data.new_state.attributes: expected an object, got array")


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("last_changed", "2026-11-22T11:27:31.769542", "has no timezone offset"),
    ("last_updated", "soon", "is not an ISO 8601 timestamp"),
    ("last_updated", None, "expected an ISO 8601 timestamp string, got NoneType"),
])
def test_rejects_bad_state_timestamps(field: str, value: object, problem: str) -> None:
    text = reason(with_new_state(**{field: value}))
    assert text.startswith(f"data.new_state.{field}: ")
    assert text.endswith(problem)


def test_nested_junk_in_attributes_is_kept_when_within_limits() -> None:
    junk = {"a": [{"b": [None, 1.5, {"c": "\u0000\U0001f525"}]}], "": {"": []}}
    assert reason(with_new_state(attributes=junk)) is None


# --- call_service, automation_triggered, script_started --------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    ({"service": "turn_on"}, "data.domain: missing"),
    ({"domain": "", "service": "turn_on"}, "data.domain: is empty"),
    ({"domain": ["light"], "service": "turn_on"}, "data.domain: expected a string, got array"),
    ({"domain": "light"}, "data.service: missing"),
    ({"domain": "light", "service": ""}, "data.service: is empty"),
    ({"domain": "light", "service": None}, "data.service: expected a string, got null"),
])
def test_rejects_call_service_without_domain_or_service(data: dict[str, Any], expected: str) -> None:
    assert reason({**call_service(), "data": data}) == expected


@pytest.mark.parametrize("event_type", ["automation_triggered", "script_started"])
def test_rejects_run_event_with_invalid_entity_id(event_type: str) -> None:
    event = other_event(event_type, {"name": "x", "entity_id": "Automation.X"})
    assert reason(event) == "data.entity_id: 'Automation.X' is not a valid entity id"


# --- rules from the environment --------------------------------------------------------------

@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("VALIDATE_EVENT_TYPES", "VALIDATE_MAX_EVENT_BYTES", "VALIDATE_MAX_FUTURE_SECONDS",
                 "VALIDATE_MIN_YEAR", "VALIDATE_MAX_DEPTH"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_rules_from_an_empty_environment_are_the_defaults(clean_env: pytest.MonkeyPatch) -> None:
    rules = load_rules()
    assert rules == ValidationRules()
    assert rules.event_types == DEFAULT_EVENT_TYPES
    assert (rules.max_event_bytes, rules.max_future_seconds, rules.min_year, rules.max_depth) == (
        262144, 300.0, 2000, 64)


def test_default_event_types_are_the_documented_seventeen() -> None:
    documented = {
        "state_changed", "call_service", "automation_triggered", "script_started", "homeassistant_start",
        "homeassistant_started", "homeassistant_stop", "homeassistant_final_write", "device_registry_updated",
        "entity_registry_updated", "area_registry_updated", "service_registered", "component_loaded",
        "core_config_updated", "logbook_entry", "ha_disconnected", "ha_reconnected",
    }
    assert documented == DEFAULT_EVENT_TYPES


def test_rules_read_every_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("VALIDATE_EVENT_TYPES", "state_changed, call_service")
    clean_env.setenv("VALIDATE_MAX_EVENT_BYTES", "1024")
    clean_env.setenv("VALIDATE_MAX_FUTURE_SECONDS", "2.5")
    clean_env.setenv("VALIDATE_MIN_YEAR", "2020")
    assert load_rules() == ValidationRules(
        event_types=frozenset({"state_changed", "call_service"}), max_event_bytes=1024,
        max_future_seconds=2.5, min_year=2020)


def test_star_accepts_every_event_type(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("VALIDATE_EVENT_TYPES", "*")
    assert load_rules().event_types is None


@pytest.mark.parametrize(("name", "value", "message"), [
    ("VALIDATE_EVENT_TYPES", " , ", "lists no event type"),
    ("VALIDATE_EVENT_TYPES", "state_changed,state changed", "'state changed' is not an event type name"),
    ("VALIDATE_MAX_EVENT_BYTES", "256k", "VALIDATE_MAX_EVENT_BYTES must be an integer"),
    ("VALIDATE_MAX_FUTURE_SECONDS", "five", "VALIDATE_MAX_FUTURE_SECONDS must be a number"),
    ("VALIDATE_MIN_YEAR", "20.5", "VALIDATE_MIN_YEAR must be an integer"),
])
def test_bad_environment_values_raise_config_error(clean_env: pytest.MonkeyPatch, name: str, value: str,
                                                    message: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_rules()


def test_validates_stage_check_passes_an_event_on_as_the_json_it_measured() -> None:
    event = call_service()
    passed = checker(ValidationRules())(event)
    assert jsoncodec.dumps([passed]) == b"[" + jsoncodec.dumps(event) + b"]"  # placed as it is, not encoded again
    with pytest.raises(Invalid, match="event_type: missing"):
        checker(ValidationRules())({k: v for k, v in event.items() if k != "event_type"})
