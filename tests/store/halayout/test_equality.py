"""layout=homeassistant writes what Home Assistant's own `influxdb:` integration writes: the real HA 2024.3.3 writes
database A, HA Ingestor (reading the same configuration.yaml) database B, from the same drive of the same home;
SHOW MEASUREMENTS, SHOW TAG KEYS, SHOW FIELD KEYS (with types) and every point (time, tags, fields) must agree,
and so must the answers to the InfluxQL of typical Grafana panels. B also holds HA Ingestor's own measurements of
events (state_changed), which A's names never collide with.

Each option set is one HA run (about 15 s each on a quiet machine; the module about 1.5 min).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingestor.timeutil import parse_timestamp
from tests.store.halayout import home, scenario, snapshot
from tests.support.influxdb2 import InfluxDB2StandIn
from tests.support.servers import InfluxDB1Server

pytestmark = pytest.mark.integration

CONNECTION = """
host: 127.0.0.1
port: {port}
database: {database}
"""

# Include and exclude together (explicit entities beat globs, globs beat domains), tags and attribute tags,
# a default measurement, ignored attributes merged with per-entity ones, component_config from an !include'd
# file, by domain and by glob (a later glob's empty override falls through), millisecond precision.
FILTERS_AND_COMPONENTS = CONNECTION + """
include:
  domains: [sensor, binary_sensor, light, input_number, automation, cover]
  entity_globs: ["lock.ha_*"]
  entities: [device_tracker.ha_phone, Counter.Light_On_Events]
exclude:
  entities: [sensor.ha_excluded, light.living_room_ceiling]
  entity_globs: ["sensor.*_power", "cover.*"]
tags:
  source: ha
  instance: 2
tags_attributes: [room, floor, device_class]
default_measurement: state
ignore_attributes: [icon, options]
component_config: !include influxdb_entities.yaml
component_config_domain:
  binary_sensor:
    override_measurement: binary
    ignore_attributes: friendly_name
component_config_glob:
  "sensor.ha_*":
    ignore_attributes: [state_class]
  "sensor.ha_t*":
    override_measurement: ""
precision: ms
"""
ENTITIES_FILE = """
sensor.ha_text:
  override_measurement: texts
  ignore_attributes: [nested]
counter.light_on_events:
  override_measurement: counters
"""

# Excludes only (one as a comma-separated string), measurements by domain and device class, the unit as a tag,
# an override by glob, second precision (changes of one entity within a second become one point).
DEVICE_CLASSES = CONNECTION + """
measurement_attr: domain__device_class
exclude:
  domains: [automation, script]
  entity_globs: ["sensor.ha_t*"]
  entities: sensor.ha_excluded, Lock.HA_Front
tags_attributes: unit_of_measurement
component_config_glob:
  "input_*":
    override_measurement: helpers
precision: s
"""

# One measurement for everything but what a component sets, measurement_attr entity_id (overridden), and the
# connection keys HA Ingestor leaves to EVENT_STORE_URL.
OVERRIDE = CONNECTION + """
measurement_attr: entity_id
override_measurement: home
component_config_domain:
  light:
    override_measurement: lights
max_retries: 2
verify_ssl: false
"""

V2 = """
api_version: 2
host: 127.0.0.1
port: {port}
ssl: false
token: ha-token
organization: home
bucket: ha
measurement_attr: entity_id
tags:
  home: test
precision: us
"""


def assert_identical(side: scenario.SideBySide, server: InfluxDB1Server) -> None:
    assert len(side.events) >= 40, "the drive fired too few state changes"
    assert not side.differences, "\n".join(side.differences)
    assert snapshot.point_count(server, side.a) > 0
    own = snapshot.event_measurements(server, side.b)
    assert own == {"state_changed"} and not own & set(snapshot.measurements(server, side.a))


@pytest.fixture(scope="module")
def default_side(influxdb: InfluxDB1Server, tmp_path_factory: pytest.TempPathFactory) -> scenario.SideBySide:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return scenario.run_v1(influxdb, tmp_path_factory.mktemp("default"), CONNECTION, monkeypatch)


def test_default_options_write_what_home_assistant_writes(influxdb: InfluxDB1Server,
                                                          default_side: scenario.SideBySide) -> None:
    assert_identical(default_side, influxdb)
    measurements = set(snapshot.measurements(influxdb, default_side.a))
    assert {"°C", "W", "µg/m³", "m³/h, avg", "sensor.ha_text", "light.living_room_ceiling"} <= measurements


# Panels as Grafana users build them on HA's layout ($timeFilter as Grafana fills it in: the drive's minutes).
PANELS = {
    "mean value by entity": 'SELECT mean("value") FROM "°C" WHERE $timeFilter GROUP BY time(10s), "entity_id" '
                            "fill(none)",
    "last state": """SELECT last("state") FROM "binary_sensor.living_room_motion" WHERE "entity_id" = """
                  """'living_room_motion' AND $timeFilter""",
    "count per domain": 'SELECT count("value") FROM /.*/ WHERE $timeFilter GROUP BY "domain"',
    "max of an attribute": 'SELECT max("current_temperature"), last("hvac_modes_str") FROM '
                           '"climate.living_room_thermostat" WHERE $timeFilter GROUP BY time(1m) fill(none)',
    "entity variable": 'SHOW TAG VALUES FROM "°C" WITH KEY = "entity_id"',
}


@pytest.mark.parametrize("panel", PANELS)
def test_grafana_panels_answer_alike_on_both_databases(influxdb: InfluxDB1Server, default_side: scenario.SideBySide,
                                                       panel: str) -> None:
    times = sorted(parse_timestamp(e["time_fired"]) for e in default_side.events)
    start, end = (times[0] - dt.timedelta(minutes=1)).replace(second=0, microsecond=0), times[-1]
    query = PANELS[panel].replace("$timeFilter", f"time >= '{start:%Y-%m-%dT%H:%M:%SZ}' AND "
                                                 f"time <= '{end + dt.timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}'")
    answer = snapshot.influxql(influxdb, default_side.a, query)
    assert answer and all(s["values"] for s in answer), f"{panel}: no data in A"
    assert snapshot.influxql(influxdb, default_side.b, query) == answer


def test_filters_tags_and_component_config_write_what_home_assistant_writes(
        influxdb: InfluxDB1Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    side = scenario.run_v1(influxdb, tmp_path, FILTERS_AND_COMPONENTS, monkeypatch,
                           files={"influxdb_entities.yaml": ENTITIES_FILE})
    assert_identical(side, influxdb)
    measurements = set(snapshot.measurements(influxdb, side.a))
    assert {"texts", "binary", "counters", "state"} <= measurements
    assert not {"sensor.ha_excluded", "cover.ha_blind", "switch.tv_plug"} & measurements


def test_measurements_by_device_class_write_what_home_assistant_writes(
        influxdb: InfluxDB1Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    side = scenario.run_v1(influxdb, tmp_path, DEVICE_CLASSES, monkeypatch)
    assert_identical(side, influxdb)
    assert {"sensor__power", "binary_sensor__door", "helpers"} <= set(snapshot.measurements(influxdb, side.a))


def test_overridden_measurements_write_what_home_assistant_writes(influxdb: InfluxDB1Server, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    side = scenario.run_v1(influxdb, tmp_path, OVERRIDE, monkeypatch)
    assert_identical(side, influxdb)
    assert set(snapshot.measurements(influxdb, side.a)) == {"home", "lights"}


def test_api_v2_writes_store_what_home_assistants_v2_writes_store(influxdb: InfluxDB1Server, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = InfluxDB2StandIn()
    try:
        side = scenario.run_v2(influxdb, stand_in, tmp_path, V2, monkeypatch,
                               rest=home.REST_STATES + home.NON_FINITE_STATES)
    finally:
        stand_in.close()
    assert_identical(side, influxdb)
    assert "sensor.ha_nan" in snapshot.measurements(influxdb, side.a)  # its attributes, without a value
