"""normalize / normalize_event: real HA events become the event records (ingestor.record), field by field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ingestor import record
from ingestor.event_id import event_id, target_event_id
from ingestor.normalization import NormalizationError, coerce_state_value, normalize, normalize_event
from ingestor.units import unit_name
from ingestor.validation import ValidationRules, validate_event
from tests.support.ha_events import recorded

RECORD_KEYS = list(record.FIELDS)  # docs/design.md's order, pinned in tests/pipeline/test_record.py
USER = "e243fa91b1db4c91955005050c9e4671"
CLICK = "01M81G5SXSR9VEPMR50TY4GN0R"  # context of the user's service call in the samples



def light_on() -> dict[str, Any]:
    return recorded("state_changed")[0]


def parent_chain() -> list[dict[str, Any]]:
    return recorded("state_changed_parent_chain")


def same_context() -> list[dict[str, Any]]:
    return recorded("state_changed_same_context")


def call_service(service_data: dict[str, Any]) -> dict[str, Any]:
    """A call_service event in HA 2024.3's wire shape."""
    return {
        "event_type": "call_service",
        "data": {"domain": "input_boolean", "service": "turn_on", "service_data": service_data},
        "origin": "LOCAL",
        "time_fired": "2026-11-22T11:27:31.768000+00:00",
        "context": {"id": CLICK, "parent_id": None, "user_id": USER},
    }


def run_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "data": data,
        "origin": "LOCAL",
        "time_fired": "2026-11-22T11:27:31.769917+00:00",
        "context": {"id": "01M81G5SXSWE0Y1B7XWHMS3C22", "parent_id": CLICK, "user_id": None},
    }


# --- state_changed from real HA --------------------------------------------------------------

def test_light_turned_on_becomes_a_complete_record() -> None:
    event = light_on()
    assert normalize_event(event) == {
        "event_id": event_id(event),
        "event_type": "state_changed",
        "time_fired": "2026-11-22T11:27:31.769542Z",
        "origin": "LOCAL",
        "entity_id": "input_boolean.living_room_light",
        "domain": "input_boolean",
        "state": "on",
        "old_state": "off",
        "state_value": 1.0,
        "unit": None,
        "device_class": None,
        "friendly_name": "Living Room Light",
        "attributes": {"editable": False, "icon": "mdi:lightbulb", "friendly_name": "Living Room Light"},
        "duration_in_state": pytest.approx(1.677568),
        "context": {"id": CLICK, "parent_id": None, "user_id": USER},
        "device_id": None,
        "area_id": None,
        "device_manufacturer": None,
        "device_model": None,
        "weather": None,
        "data": None,
    }


@pytest.mark.parametrize("event", [light_on(), call_service({}), run_event("homeassistant_started", {})],
                         ids=["state_changed", "call_service", "other"])
def test_record_has_exactly_the_design_keys_in_order(event: dict[str, Any]) -> None:
    assert list(normalize_event(event)) == RECORD_KEYS


def test_record_is_json_serialisable() -> None:
    record = normalize_event(light_on())
    assert json.loads(json.dumps(record)) == record


def test_template_sensor_record_has_unit_device_class_and_numeric_value() -> None:
    record = normalize_event(same_context()[1])
    assert (record["entity_id"], record["domain"]) == ("sensor.living_room_temperature", "sensor")
    assert (record["state"], record["old_state"], record["state_value"]) == ("16.7", "20.0", 16.7)
    assert (record["unit"], record["device_class"]) == ("celsius", "temperature")
    assert record["friendly_name"] == "Living Room Temperature"
    assert record["duration_in_state"] == pytest.approx(1.60107)
    assert record["time_fired"] == "2026-11-22T11:27:31.820361Z"


def test_template_sensor_shares_its_triggers_context_id_without_parent() -> None:
    trigger, sensor = (normalize_event(e) for e in same_context())
    assert sensor["context"] == trigger["context"] == {"id": "01M81G5SZBPYA4SFH7NGDVTTDZ", "parent_id": None,
                                                       "user_id": USER}
    assert sensor["event_id"] != trigger["event_id"]


def test_automation_chain_keeps_the_parent_context() -> None:
    click, *caused = (normalize_event(e) for e in parent_chain())
    assert click["context"] == {"id": CLICK, "parent_id": None, "user_id": USER}
    assert [r["context"] for r in caused] == [{"id": "01M81G5SXSWE0Y1B7XWHMS3C22", "parent_id": CLICK,
                                               "user_id": None}] * 3


def test_counter_increment_is_numeric_and_ends_the_old_state() -> None:
    record = normalize_event(parent_chain()[2])
    assert (record["state"], record["old_state"], record["state_value"]) == ("1", "0", 1.0)
    assert record["duration_in_state"] == pytest.approx(31.771049 - 30.096110)


def test_attribute_only_update_has_no_duration() -> None:
    # Automations change only attributes on every run: their state stays "on".
    record = normalize_event(parent_chain()[1])
    assert (record["state"], record["old_state"]) == ("on", "on")
    assert record["duration_in_state"] is None
    assert record["attributes"]["current"] == 1


def test_entity_removed_keeps_old_state_and_its_attributes() -> None:
    event = light_on()
    event["data"]["new_state"] = None
    record = normalize_event(event)
    assert (record["state"], record["old_state"], record["state_value"]) == (None, "off", None)
    assert record["friendly_name"] == "Living Room Light"
    assert record["duration_in_state"] is None
    assert record["event_id"] == event_id(event)


def test_entity_added_has_no_old_state_and_no_duration() -> None:
    event = light_on()
    event["data"]["old_state"] = None
    record = normalize_event(event)
    assert (record["state"], record["old_state"], record["duration_in_state"]) == ("on", None, None)


def test_state_change_with_backwards_clock_has_no_duration() -> None:
    event = light_on()
    event["data"]["old_state"]["last_changed"] = "2026-11-22T11:30:00+00:00"
    assert normalize_event(event)["duration_in_state"] is None


def test_missing_context_gives_null_context_fields() -> None:
    event = light_on()
    del event["context"]
    assert normalize_event(event)["context"] == {"id": None, "parent_id": None, "user_id": None}


def test_record_attributes_are_a_copy() -> None:
    event = light_on()
    normalize_event(event)["attributes"]["icon"] = "changed"
    assert event["data"]["new_state"]["attributes"]["icon"] == "mdi:lightbulb"


def test_missing_origin_is_null() -> None:
    event = light_on()
    del event["origin"]
    assert normalize_event(event)["origin"] is None


# --- other event types ------------------------------------------------------------------------

def test_call_service_on_one_entity_names_it() -> None:
    event = call_service({"entity_id": "input_boolean.living_room_light"})
    record = normalize_event(event)
    assert (record["entity_id"], record["domain"]) == ("input_boolean.living_room_light", "input_boolean")
    assert record["data"] == event["data"]
    assert record["attributes"] == {}
    assert record["event_id"] == event_id(event)
    assert record["context"] == {"id": CLICK, "parent_id": None, "user_id": USER}


@pytest.mark.parametrize("service_data", [{"entity_id": "all"}, {}, {"entity_id": None}, {"entity_id": ["none"]},
                                          {"area_id": "kitchen"}])
def test_call_service_naming_no_entity_is_one_record_with_the_service_domain(service_data: dict[str, Any]) -> None:
    [record] = normalize(call_service(service_data))
    assert (record["entity_id"], record["domain"]) == (None, "input_boolean")
    assert record["event_id"] == event_id(call_service(service_data))


def test_call_service_with_a_list_of_one_entity_names_it() -> None:
    """What an automation fires for `target: {entity_id: light.hallway}` (HA makes the target a list)."""
    event = call_service({"entity_id": ["light.hallway_ceiling"]})
    [record] = normalize(event)
    assert (record["entity_id"], record["domain"]) == ("light.hallway_ceiling", "light")
    assert record["event_id"] == event_id(event) and record["data"] == event["data"]


def test_call_service_on_several_entities_is_one_record_per_entity() -> None:
    event = call_service({"entity_id": ["light.hallway_ceiling", "switch.tv_plug"], "brightness": 80})
    records = normalize(event)
    assert [(r["entity_id"], r["domain"]) for r in records] == [("light.hallway_ceiling", "light"),
                                                              ("switch.tv_plug", "switch")]
    assert [r["data"]["service_data"] for r in records] == [{"entity_id": "light.hallway_ceiling", "brightness": 80},
                                                            {"entity_id": "switch.tv_plug", "brightness": 80}]
    assert all(r["data"]["domain"] == "input_boolean" and r["data"]["service"] == "turn_on" for r in records)
    assert {(r["time_fired"], r["context"]["id"]) for r in records} == {(records[0]["time_fired"], CLICK)}
    assert event["data"]["service_data"]["entity_id"] == ["light.hallway_ceiling", "switch.tv_plug"]  # untouched


def test_the_records_of_one_call_have_ids_that_a_replay_repeats_and_nothing_else_shares() -> None:
    event = call_service({"entity_id": ["light.a", "light.b", "light.c"]})
    ids = [r["event_id"] for r in normalize(event)]
    assert ids == [r["event_id"] for r in normalize(json.loads(json.dumps(event)))]
    assert ids == [target_event_id(event_id(event), e) for e in ("light.a", "light.b", "light.c")]
    later = call_service({"entity_id": ["light.a", "light.b", "light.c"]})
    later["time_fired"] = "2026-11-22T11:27:32.768000+00:00"
    assert len(set(ids) | {event_id(event)} | {r["event_id"] for r in normalize(later)}) == 7


@pytest.mark.parametrize(("value", "entities"), [
    ("light.a, light.b", ["light.a", "light.b"]),
    (["light.a", "light.a", "light.b"], ["light.a", "light.b"]),
    (["light.a", "not an entity", 7, "light.b"], ["light.a", "light.b"]),
])
def test_the_targets_of_a_call_are_read_as_ha_reads_them(value: Any, entities: list[str]) -> None:
    assert [r["entity_id"] for r in normalize(call_service({"entity_id": value}))] == entities


def test_call_service_with_non_object_service_data_names_no_entity() -> None:
    event = call_service({})
    event["data"]["service_data"] = "light.a"
    assert normalize_event(event)["entity_id"] is None


def test_call_service_has_no_state_fields() -> None:
    record = normalize_event(call_service({"entity_id": "input_boolean.living_room_light"}))
    fields = ("state", "old_state", "state_value", "unit", "device_class", "friendly_name",
              "duration_in_state")
    assert {key: record[key] for key in fields} == dict.fromkeys(fields)


@pytest.mark.parametrize(("event_type", "entity_id", "name"), [
    ("automation_triggered", "automation.count_lights_turned_on", "Count lights turned on"),
    ("script_started", "script.bump_script_runs", "Bump script runs"),
])
def test_automation_and_script_runs_name_their_entity(event_type: str, entity_id: str, name: str) -> None:
    data = {"name": name, "entity_id": entity_id, "source": "state of input_boolean.living_room_light"}
    record = normalize_event(run_event(event_type, data))
    assert record["entity_id"] == entity_id
    assert record["domain"] == entity_id.split(".")[0]
    assert record["friendly_name"] == name
    assert record["data"] == data
    assert record["context"]["parent_id"] == CLICK


def test_event_without_entity_has_only_its_data() -> None:
    record = normalize_event(run_event("homeassistant_started", {}))
    assert record["event_type"] == "homeassistant_started"
    assert record["time_fired"] == "2026-11-22T11:27:31.769917Z"
    assert (record["entity_id"], record["domain"], record["friendly_name"]) == (None, None, None)
    assert record["attributes"] == {}
    assert record["data"] == {}


# --- inputs it cannot handle ------------------------------------------------------------------

def test_normalization_error_is_a_value_error() -> None:
    assert issubclass(NormalizationError, ValueError)


@pytest.mark.parametrize(("event", "message"), [
    ([], "event: expected an object"),
    ({"data": {}, "time_fired": "2026-11-22T11:27:31Z"}, "event_type: expected a string"),
    ({"event_type": "call_service", "time_fired": "2026-11-22T11:27:31Z"}, "data: expected an object"),
    ({"event_type": "call_service", "data": {}, "time_fired": "2026-11-22T11:27:31"},
     "time_fired: .* no timezone"),
    ({"event_type": "state_changed", "data": {"entity_id": 3}, "time_fired": "2026-11-22T11:27:31Z"},
     "data.entity_id: expected an entity id"),
])
def test_rejects_events_it_cannot_build_a_record_from(event: Any, message: str) -> None:
    with pytest.raises(NormalizationError, match=message):
        normalize_event(event)


def test_rejects_state_without_last_updated() -> None:
    event = light_on()
    del event["data"]["new_state"]["last_updated"]
    with pytest.raises(NormalizationError, match="event_id: cannot be derived, 'last_updated' is missing"):
        normalize_event(event)


def test_rejects_state_with_naive_last_changed_when_computing_duration() -> None:
    event = light_on()
    event["data"]["old_state"]["last_changed"] = "2026-11-22T11:27:30"
    with pytest.raises(NormalizationError, match="data.old_state.last_changed: .* no timezone offset"):
        normalize_event(event)


def test_rejects_non_object_state() -> None:
    event = light_on()
    event["data"]["new_state"] = "on"
    with pytest.raises(NormalizationError, match="data.new_state: expected an object"):
        normalize_event(event)


def test_every_real_sample_validates_and_normalizes() -> None:
    events = parent_chain() + same_context()
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert [validate_event(e, ValidationRules(), now) for e in events] == [None] * len(events)
    assert len({normalize_event(e)["event_id"] for e in events}) == len(events)


# --- state_value coercion ---------------------------------------------------------------------

@pytest.mark.parametrize(("state", "value"), [
    ("21.5", 21.5), ("0", 0.0), ("-3", -3.0), ("+4", 4.0), ("1e3", 1000.0), ("2.5E-2", 0.025), (".5", 0.5),
    ("5.", 5.0), (" 7.25 ", 7.25), ("1e308", 1e308),
    ("on", 1.0), ("off", 0.0), ("ON", 1.0), (" Off ", 0.0), ("true", 1.0), ("False", 0.0), ("yes", 1.0),
    ("no", 0.0), ("open", 1.0), ("closed", 0.0), ("home", 1.0), ("not_home", 0.0), ("locked", 1.0),
    ("unlocked", 0.0), ("detected", 1.0), ("clear", 0.0),
])
def test_coerces_numbers_and_binary_states(state: str, value: float) -> None:
    assert coerce_state_value(state) == value


@pytest.mark.parametrize("state", [
    None, "", "   ", "unavailable", "unknown", "nan", "NaN", "inf", "-Infinity", "1e400", "-1e400", "1_000",
    "0x10", "1,5", "٣", "12 °C", "idle", "playing", "active", "paused", "heat", "2026-11-22T11:27:31+00:00",
    "1e", "e5", ".", "-", "--1", "1.2.3",
])
def test_everything_else_has_no_state_value(state: str | None) -> None:
    assert coerce_state_value(state) is None


def test_a_long_digit_string_within_float_range_is_a_number() -> None:
    assert coerce_state_value("9" * 255) == pytest.approx(1e255)


# --- unit names -------------------------------------------------------------------------------

@pytest.mark.parametrize(("symbol", "name"), [
    ("°C", "celsius"), ("°F", "fahrenheit"), ("K", "kelvin"), ("hPa", "hectopascal"), ("%", "percent"),
    ("Pa", "pascal"), ("kPa", "kilopascal"), ("bar", "bar"), ("mbar", "millibar"),
    ("inHg", "inch_of_mercury"), ("psi", "pound_per_square_inch"), ("mmHg", "millimeter_of_mercury"),
    ("W", "watt"), ("kW", "kilowatt"), ("kWh", "kilowatt_hour"), ("Wh", "watt_hour"),
    ("MWh", "megawatt_hour"),
    ("V", "volt"), ("mV", "millivolt"), ("A", "ampere"), ("mA", "milliampere"), ("VA", "volt_ampere"),
    ("var", "volt_ampere_reactive"), ("Hz", "hertz"), ("lx", "lux"), ("lm", "lumen"),
    ("ppm", "parts_per_million"), ("ppb", "parts_per_billion"),
    ("\u00b5g/m³", "microgram_per_cubic_meter"), ("\u03bcg/m³", "microgram_per_cubic_meter"),
    ("mg/m³", "milligram_per_cubic_meter"), ("dB", "decibel"), ("dBm", "decibel_milliwatt"),
    ("m", "meter"), ("cm", "centimeter"), ("mm", "millimeter"), ("km", "kilometer"), ("in", "inch"),
    ("ft", "foot"), ("mi", "mile"), ("m³", "cubic_meter"), ("L", "liter"), ("mL", "milliliter"),
    ("gal", "gallon"), ("ft³", "cubic_foot"), ("m³/h", "cubic_meter_per_hour"), ("L/min", "liter_per_minute"),
    ("g", "gram"), ("kg", "kilogram"), ("lb", "pound"), ("s", "second"), ("min", "minute"), ("h", "hour"),
    ("d", "day"), ("ms", "millisecond"), ("km/h", "kilometer_per_hour"), ("m/s", "meter_per_second"),
    ("mph", "mile_per_hour"), ("mm/h", "millimeter_per_hour"), ("in/h", "inch_per_hour"),
    ("W/m²", "watt_per_square_meter"), ("B", "byte"), ("kB", "kilobyte"), ("MB", "megabyte"),
    ("GB", "gigabyte"), ("bit/s", "bit_per_second"), ("kbit/s", "kilobit_per_second"),
    ("Mbit/s", "megabit_per_second"), ("°", "degree"), (" °C ", "celsius"),
])
def test_unit_symbols_map_to_stable_names(symbol: str, name: str) -> None:
    assert unit_name(symbol) == name


@pytest.mark.parametrize(("symbol", "kept"), [("EUR/kWh", "EUR/kWh"), (" widgets ", "widgets"), ("°c", "°c")])
def test_unknown_unit_symbols_pass_through_stripped(symbol: str, kept: str) -> None:
    assert unit_name(symbol) == kept


@pytest.mark.parametrize("symbol", [None, "", "   "])
def test_absent_unit_has_no_name(symbol: str | None) -> None:
    assert unit_name(symbol) is None


def test_non_string_unit_attribute_gives_no_unit() -> None:
    event = light_on()
    event["data"]["new_state"]["attributes"]["unit_of_measurement"] = 5
    assert normalize_event(event)["unit"] is None
