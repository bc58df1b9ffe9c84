"""The user's `influxdb:` block: read from pasted YAML or from their configuration.yaml, checked once, every
mistake named by its key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingestor.config import ConfigError
from ingestor.store import haconfig, open_event_store
from ingestor.store.haconfig import EntityOptions, Filter, HaInfluxOptions

CONFIGURATION = """
homeassistant:
  name: Home
  packages: !include_dir_named packages
automation: !include automations.yaml
influxdb:
  host: 192.168.1.10
  username: ha
  password: !secret influxdb_password
  include:
    entities: sensor.a, Sensor.B
    domains: light
  tags:
    source: ha
    floor: 1
  component_config: !include influxdb_components.yaml
  precision: s
"""


def test_an_empty_setting_gives_has_defaults() -> None:
    assert haconfig.load("") == HaInfluxOptions(measurement_attr="unit_of_measurement")


def test_the_block_is_read_from_configuration_yaml_with_its_includes_and_without_its_secrets(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(CONFIGURATION)
    (tmp_path / "influxdb_components.yaml").write_text("sensor.a:\n  override_measurement: a\n")
    options = haconfig.load(str(tmp_path / "configuration.yaml"))
    assert options.include == Filter(domains=("light",), entities=("sensor.a", "sensor.b"))
    assert options.tags == {"source": "ha", "floor": "1"} and options.precision == "s"
    assert options.component_config == {"sensor.a": EntityOptions("a", None)}


def test_a_pasted_block_may_be_the_block_or_its_content() -> None:
    assert haconfig.load("influxdb:\n  default_measurement: state\n").default_measurement == "state"
    assert haconfig.load("default_measurement: state\nignore_attributes: icon\n").ignore_attributes == ("icon",)


def test_env_var_tags_are_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HA_MEASUREMENT", "from_env")
    assert haconfig.load("default_measurement: !env_var HA_MEASUREMENT\n").default_measurement == "from_env"


@pytest.mark.parametrize(("yaml", "named"), [
    ("includes:\n  domains: [sensor]\n", "influxdb: unknown key(s) 'includes'"),
    ("include:\n  domain: sensor\n", "influxdb.include: unknown key(s) 'domain'"),
    ("include:\n  entities: [sensor.ok, not an entity]\n", "influxdb.include.entities[1]"),
    ("tags: [a, b]\n", "influxdb.tags: expected a mapping"),
    ("tags_attributes: [{a: 1}]\n", "influxdb.tags_attributes[0]: expected a string"),
    ("measurement_attr: unit\n", "influxdb.measurement_attr: 'unit' is not one of"),
    ("precision: h\n", "influxdb.precision: 'h' is not one of ms, s, us, ns"),
    ("component_config:\n  sensor.a:\n    override: x\n", "influxdb.component_config.sensor.a: unknown key(s)"),
    ("component_config:\n  sensor:\n    override_measurement: x\n", "influxdb.component_config['sensor']"),
    ("override_measurement: aggregates_hourly\n", "influxdb.override_measurement: 'aggregates_hourly'"),
    ("tags:\n  event_type: x\n", "influxdb.tags: the tag 'event_type'"),
    ("tags_attributes: event_type\n", "influxdb.tags_attributes: the tag 'event_type'"),
    ("default_measurement: !secret m\n", "influxdb.default_measurement: !secret"),
    ("component_config: !include other.yaml\n", "influxdb.component_config: !include needs"),
    ("ignore_attributes: !include_dir_list x\n", "influxdb.ignore_attributes: the YAML tag !include_dir_list"),
])
def test_a_mistake_is_a_config_error_naming_its_key(yaml: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        haconfig.load(yaml)
    assert named in str(caught.value) and haconfig.SETTING in str(caught.value)


@pytest.mark.parametrize(("setting", "says"), [
    ("/config/configuration.yml", "is not a file that can be read"),
    ("just text", "expected the influxdb: block"),
    ("influxdb: [a\n", "is not valid YAML"),
])
def test_a_setting_that_is_no_block_says_what_it_is(setting: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        haconfig.load(setting)


def test_connection_keys_are_known_and_said_to_be_unused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ingestor.store.haconfig"):
        options = haconfig.load("host: h\nport: 8086\npassword: !secret pw\nmax_retries: 3\napi_version: 2\n")
    assert options.api_version == "2"
    assert "host, port, password, max_retries" in caplog.text and "EVENT_STORE_URL" in caplog.text


def test_the_store_checks_the_block_when_it_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(haconfig.SETTING, "include:\n  entities: [Not Valid]\n")
    with pytest.raises(ConfigError, match=r"INFLUXDB_HA_CONFIG \(the pasted YAML\): influxdb.include.entities\[0\]"):
        open_event_store("influxdb://127.0.0.1:1/db?layout=homeassistant")


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="layout='grafana' is not one of native, homeassistant"):
        open_event_store("influxdb://127.0.0.1:1/db?layout=grafana")
