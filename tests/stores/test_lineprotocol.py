"""Event records as InfluxDB line protocol: exact bytes, and field types that never change."""

from __future__ import annotations

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
        'event_id="0123456789abcdef0123456789abcdef",state="21",friendly_name="Living \\"Room\\", T",'
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
