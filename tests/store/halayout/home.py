"""The home the layout tests drive: the test HA's entities, a few of the demo home's real devices (a light with
color modes, a thermostat with HVAC modes, sensors with units and device classes, a motion sensor, a plug) and
states set through HA's REST API with every kind of attribute HA's integration treats differently.

`configure` writes HA's configuration with the `influxdb:` block under test; `drive` makes the changes, one
REST call each, in a fixed order, so HA's integration and HA Ingestor see the same events.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from demo import home as demo_home
from demo.driver import HAClient
from tests.support.homeassistant import CONFIG_TEMPLATE

DEVICES = [d for d in demo_home.DEVICES if d["id"] in ("lr_ceiling", "lr_motion", "lr_tv_plug", "lr_thermostat")]
LIGHT, THERMOSTAT = "light.living_room_ceiling", "climate.living_room_thermostat"
MOTION, PLUG, PLUG_POWER = "binary_sensor.living_room_motion", "switch.tv_plug", "sensor.tv_plug_power"

# Attributes HA's integration writes in every way it knows: floats, text with and without a number at its end,
# booleans, null, lists, mappings, names that collide with its own fields, characters line protocol escapes.
RICH = {
    "friendly_name": "Rich Sensor 12", "icon": "mdi:flask", "count": 3, "ratio": 0.25, "flag": True,
    "off_flag": False, "nothing": None, "options": ["a", "b"], "nested": {"k": [1, 2], "z": "x"},
    "version": "v1.2", "code": "A12B34", "numeric_text": "42", "spaced_number": " 7 ", "underscored": "1_000",
    "inf_text": "inf", "nan_text": "nan", "exponent": "1e3", "empty": "", "multiline": "line one\nline two",
    "quoted": 'say "hi" \\ back', "path": "C:\\temp\\x", "unicode": "Zürich ☀ 3°", "key with space": 1.5,
    "comma,key": "x", "equals=key": "y", "state": "shadow", "value": 9, "value_str": "collides",
    "list_of_numbers": [10, 20], "room": "kitchen", "floor": 2, "nl\nkey": "z",
}

# (entity, state, attributes): what the REST API sets, in order.
REST_STATES: list[tuple[str, str, dict[str, Any]]] = [
    ("sensor.ha_power", "123.4", {"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement",
                                  "friendly_name": "Power 2", "room": "office", "floor": 1}),
    ("sensor.ha_power", "1e3", {"unit_of_measurement": "W", "device_class": "power", "friendly_name": "Power 2"}),
    ("sensor.ha_power", " 7 ", {"unit_of_measurement": "W", "device_class": "power", "friendly_name": "Power 2"}),
    ("sensor.ha_power", "1_5", {"unit_of_measurement": "W", "device_class": "power", "friendly_name": "Power 2"}),
    ("sensor.ha_flow", "5", {"unit_of_measurement": "m³/h, avg", "friendly_name": "Flow = in"}),
    ("sensor.ha_flow", "6.5", {"unit_of_measurement": "m³/h, avg", "friendly_name": "Flow = in"}),
    ("sensor.ha_pm", "12", {"unit_of_measurement": "µg/m³", "device_class": "pm25", "friendly_name": "PM 2.5"}),
    ("sensor.ha_text", "hello world", RICH),
    ("sensor.ha_text", "hello again", {**RICH, "count": 4, "flag": False, "room": "hall\\way"}),
    ("sensor.ha_text", "42", {**RICH, "count": "many"}),
    ("sensor.ha_numeric_unit", "3", {"unit_of_measurement": 5, "friendly_name": "Numeric unit"}),
    ("sensor.ha_empty_unit", "3", {"unit_of_measurement": "", "friendly_name": "Empty unit"}),
    ("sensor.ha_excluded", "1", {"unit_of_measurement": "W", "friendly_name": "Excluded"}),
    ("sensor.ha_unknown", "unknown", {"friendly_name": "Unknown"}),
    ("sensor.ha_unknown", "unavailable", {"friendly_name": "Unknown"}),
    ("sensor.ha_unknown", "on", {"friendly_name": "Unknown"}),
    ("binary_sensor.ha_door", "on", {"device_class": "door", "friendly_name": "Door"}),
    ("binary_sensor.ha_door", "off", {"device_class": "door", "friendly_name": "Door"}),
    ("device_tracker.ha_phone", "home", {"source_type": "gps", "latitude": 52.37, "longitude": 4.89,
                                         "gps_accuracy": 12}),
    ("device_tracker.ha_phone", "not_home", {"source_type": "gps", "latitude": 52.1, "longitude": 4.5}),
    ("device_tracker.ha_phone", "work", {"source_type": "gps"}),
    ("lock.ha_front", "locked", {"friendly_name": "Front"}),
    ("lock.ha_front", "unlocked", {"friendly_name": "Front"}),
    ("lock.ha_front", "jammed", {"friendly_name": "Front"}),
    ("cover.ha_blind", "open", {"current_position": 100, "device_class": "blind"}),
    ("cover.ha_blind", "closed", {"current_position": 0, "device_class": "blind"}),
    ("cover.ha_blind", "opening", {"current_position": 10, "device_class": "blind"}),
    ("sun.ha_sky", "above_horizon", {"elevation": 12.5, "rising": True}),
    ("sun.ha_sky", "below_horizon", {"elevation": -3.25, "rising": False}),
    ("weather.ha_home", "sunny", {"temperature": 21.5, "temperature_unit": "°C", "humidity": 40}),
]
NON_FINITE_STATES = [("sensor.ha_nan", "nan", {"unit_of_measurement": "W", "friendly_name": "NaN"}),
                     ("sensor.ha_nan", "inf", {"unit_of_measurement": "W", "friendly_name": "NaN"}),
                     ("sensor.ha_nan", "-Infinity", {"unit_of_measurement": "W", "friendly_name": "NaN"})]


def configure(influxdb: str, files: dict[str, str] | None = None) -> Any:
    """A `write_config` for tests.support.homeassistant.HomeAssistant: the test home plus the `influxdb:` block
    (YAML text, as a user has it: an `!include` in it reaches HA, and HA Ingestor, as a tag) and `files`."""

    def write(config_dir: Path, port: int) -> Path:
        config = yaml.safe_load(CONFIG_TEMPLATE.read_text().replace("__PORT__", str(port)))
        config["ingestor_demo"] = {"devices": DEVICES}
        config_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(demo_home.CUSTOM_COMPONENTS, config_dir / "custom_components", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        for name, text in (files or {}).items():
            (config_dir / name).write_text(text)
        path = config_dir / "configuration.yaml"
        block = "".join(f"  {line}\n" for line in influxdb.strip("\n").splitlines())
        path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True) + "influxdb:\n" + block)
        return path

    return write


def drive(client: HAClient, rest: list[tuple[str, str, dict[str, Any]]] | None = None) -> None:
    """The changes, in order: a service call on a real entity after every two REST-set states."""
    states = list(REST_STATES if rest is None else rest)
    services: list[tuple[str, str, dict[str, Any]]] = [
        ("input_number", "set_value", {"entity_id": "input_number.living_room_temperature_raw", "value": 21.5}),
        ("input_boolean", "turn_on", {"entity_id": "input_boolean.living_room_light"}),  # the automation counts
        ("light", "turn_on", {"entity_id": LIGHT, "brightness": 128}),
        ("climate", "set_temperature", {"entity_id": THERMOSTAT, "temperature": 22.5}),
        ("ingestor_demo", "set", {"entity_id": MOTION, "value": True}),
        ("switch", "turn_on", {"entity_id": PLUG}),
        ("ingestor_demo", "set", {"entity_id": PLUG_POWER, "value": 88.5}),
        ("script", "turn_on", {"entity_id": "script.bump_script_runs"}),
        ("input_boolean", "turn_off", {"entity_id": "input_boolean.living_room_light"}),
        ("climate", "set_hvac_mode", {"entity_id": THERMOSTAT, "hvac_mode": "off"}),
        ("light", "turn_off", {"entity_id": LIGHT}),
        ("input_number", "set_value", {"entity_id": "input_number.living_room_temperature_raw", "value": -3.5}),
        ("counter", "increment", {"entity_id": "counter.light_on_events"}),
        ("ingestor_demo", "set", {"entity_id": MOTION, "value": False}),
        ("switch", "turn_off", {"entity_id": PLUG}),
    ]
    while states or services:
        for _ in range(2):
            if states:
                entity, state, attributes = states.pop(0)
                client.request("POST", f"/api/states/{entity}", {"state": state, "attributes": attributes})
        if services:
            domain, service, data = services.pop(0)
            client.call(domain, service, **data)
