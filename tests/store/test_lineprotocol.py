"""Event records as InfluxDB line protocol: exact bytes, and field types that never change."""

from __future__ import annotations

import pytest

from ingestor import record
from ingestor.store.lineprotocol import point, record_from

RECORD = {
    "event_id": "0123456789abcdef0123456789abcdef", "event_type": "state_changed",
    "time_fired": "2026-11-20T12:00:00.000001Z", "origin": "LOCAL", "entity_id": "sensor.t", "domain": "sensor",
    "state": "21", "old_state": None, "state_value": 21, "unit": "celsius", "device_class": "temperature",
    "friendly_name": 'Living "Room", T', "attributes": {"unit_of_measurement": "°C"}, "duration_in_state": None,
    "context": {"id": "ctx", "parent_id": None, "user_id": None}, "device_id": None, "area_id": "living room",
    "device_manufacturer": None, "device_model": None, "weather": None, "data": None,
}


def test_a_record_becomes_one_exact_line() -> None:
    assert point(RECORD) == (
        "state_changed,entity_id=sensor.t,domain=sensor,device_class=temperature,area_id=living\\ room,"
        "event_type=state_changed "
        'one=1i,event_id="0123456789abcdef0123456789abcdef",state="21",friendly_name="Living \\"Room\\", T",'
        'unit="celsius",origin="LOCAL",state_value=21.0,attributes="{\\"unit_of_measurement\\":\\"°C\\"}",'
        'context_id="ctx" 1795176000000001'
    )


def test_numbers_are_always_floats_and_non_finite_ones_are_left_out() -> None:
    assert "state_value=1.0" in point({**RECORD, "state_value": 1})
    assert "state_value" not in point({**RECORD, "state_value": float("nan")})
    assert "state_value" not in point({**RECORD, "state_value": None})
    assert "duration_in_state=0.5" in point({**RECORD, "duration_in_state": 0.5})


def test_a_tag_value_ending_in_a_backslash_gets_a_space_influxdb_cannot_store_it_otherwise() -> None:
    assert ",area_id=c:\\\\ ," in point({**RECORD, "area_id": "c:\\"})


def test_a_row_reads_back_into_the_record() -> None:
    columns = {"event_id": RECORD["event_id"], "event_type": "state_changed", "entity_id": "sensor.t",
               "domain": "sensor", "device_class": "temperature", "area_id": "living room", "state": "21",
               "state_value": 21.0, "unit": "celsius", "origin": "LOCAL", "friendly_name": 'Living "Room", T',
               "attributes": '{"unit_of_measurement":"°C"}', "context_id": "ctx"}
    assert record_from(columns, 1795176000000001, "state_changed") == {**RECORD, "state_value": 21.0}


@pytest.mark.parametrize("event_type", [
    "x,entity_id=forged value=1", "#comment", "a b", "line\nbreak", "", "x" * 65, 'quote"d', "back\\slash"])
def test_an_event_type_outside_the_validated_form_is_never_written_as_a_measurement(event_type: str) -> None:
    with pytest.raises(ValueError, match="not a valid event type"):
        point({**RECORD, "event_type": event_type})
    assert record.problem({**RECORD, "event_type": event_type}) == (
        "event_type: expected letters, digits, _ . : - (1 to 64), as validate accepts")


def test_event_types_integrations_fire_are_measurements_as_they_are() -> None:
    assert point({**RECORD, "event_type": "ios.action_fired"}).startswith("ios.action_fired,")
    assert record.problem({**RECORD, "event_type": "shelly.click"}) is None


def test_a_backslash_inside_a_tag_value_is_written_as_it_is() -> None:
    # InfluxDB 1.x unescapes only "\," "\=" "\ " in tags: a doubled backslash would be stored doubled.
    line = point({**RECORD, "device_class": "a\\b", "area_id": "x\\,y z"})
    assert ",device_class=a\\b," in line and ",area_id=x\\\\,y\\ z," in line


def test_a_newline_in_a_tag_value_becomes_a_space() -> None:
    assert ",device_class=a\\ b," in point({**RECORD, "device_class": "a\nb"})
