"""The sandbox home: six areas of believable devices, the automations that join them, and its HA configuration.

One description serves three readers: HA (the `ingestor_demo` custom integration in ha_config/ creates these
devices, with manufacturer, model and suggested area, from the `ingestor_demo:` section written here), the
driver (which entities it may change, and how), and the end-to-end test (what each change must cause).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CUSTOM_COMPONENTS = Path(__file__).resolve().parent / "ha_config" / "custom_components"
AREAS = ("Living Room", "Kitchen", "Bedroom", "Office", "Garden", "Hallway")


def _device(device_id: str, name: str, area: str, manufacturer: str, model: str,
            *entities: dict[str, Any]) -> dict[str, Any]:
    return {"id": device_id, "name": name, "area": area, "manufacturer": manufacturer, "model": model,
            "sw_version": "1.0.0", "entities": list(entities)}


def _sensor(entity_id: str, name: str, device_class: str, unit: str, initial: float) -> dict[str, Any]:
    return {"platform": "sensor", "entity_id": entity_id, "name": name, "device_class": device_class, "unit": unit,
            "initial": initial}


def _contact(entity_id: str, name: str | None, device_class: str) -> dict[str, Any]:
    return {"platform": "binary_sensor", "entity_id": entity_id, "name": name, "device_class": device_class}


def _light(entity_id: str, initial: bool = False) -> dict[str, Any]:
    return {"platform": "light", "entity_id": entity_id, "name": None, "initial": initial}


def _switch(entity_id: str, device_class: str = "outlet") -> dict[str, Any]:
    return {"platform": "switch", "entity_id": entity_id, "name": None, "device_class": device_class}


def _climate(entity_id: str, target: float) -> dict[str, Any]:
    return {"platform": "climate", "entity_id": entity_id, "name": None, "initial": "heat", "target": target}


def _climate_sensor(prefix: str, temperature: float, humidity: float) -> tuple[dict[str, Any], dict[str, Any]]:
    return (_sensor(f"sensor.{prefix}_temperature", "Temperature", "temperature", "°C", temperature),
            _sensor(f"sensor.{prefix}_humidity", "Humidity", "humidity", "%", humidity))


HUE_MOTION = ("Signify Netherlands B.V.", "Hue motion sensor (SML001)")
AQARA_TH = ("Xiaomi", "Aqara temperature and humidity sensor (WSDCGQ11LM)")
AQARA_CONTACT = ("Xiaomi", "Aqara door and window sensor (MCCGQ11LM)")
HUE_BULB = ("Signify Netherlands B.V.", "Hue White and Color Ambiance A19 (LCA001)")

DEVICES: list[dict[str, Any]] = [
    # Living room
    _device("lr_ceiling", "Living Room Ceiling", "Living Room", *HUE_BULB, _light("light.living_room_ceiling")),
    _device("lr_climate", "Living Room Climate", "Living Room", *AQARA_TH, *_climate_sensor("living_room", 21.0, 45)),
    _device("lr_motion", "Living Room Motion", "Living Room", *HUE_MOTION,
            _contact("binary_sensor.living_room_motion", None, "motion")),
    _device("lr_tv_plug", "TV Plug", "Living Room", "Shelly", "Shelly Plug S (SHPLG-S)",
            _switch("switch.tv_plug"), _sensor("sensor.tv_plug_power", "Power", "power", "W", 0.4)),
    _device("lr_thermostat", "Living Room Thermostat", "Living Room", "Netatmo", "Smart Thermostat (NTH01)",
            _climate("climate.living_room_thermostat", 20.5)),
    # Kitchen
    _device("k_ceiling", "Kitchen Ceiling", "Kitchen", *HUE_BULB, _light("light.kitchen_ceiling")),
    _device("k_climate", "Kitchen Climate", "Kitchen", *AQARA_TH, *_climate_sensor("kitchen", 20.5, 52)),
    _device("k_motion", "Kitchen Motion", "Kitchen", *HUE_MOTION,
            _contact("binary_sensor.kitchen_motion", None, "motion")),
    _device("k_coffee", "Coffee Machine Plug", "Kitchen", "TP-Link", "Kasa Smart Plug (KP115)",
            _switch("switch.coffee_machine"), _sensor("sensor.coffee_machine_power", "Power", "power", "W", 1.1)),
    _device("k_window", "Kitchen Window", "Kitchen", *AQARA_CONTACT,
            _contact("binary_sensor.kitchen_window", None, "window")),
    # Bedroom
    _device("b_lamp", "Bedside Lamp", "Bedroom", "IKEA of Sweden", "TRADFRI bulb E27 WS opal 980lm (LED1545G12)",
            _light("light.bedside_lamp")),
    _device("b_climate", "Bedroom Climate", "Bedroom", *AQARA_TH, *_climate_sensor("bedroom", 18.5, 55)),
    _device("b_window", "Bedroom Window", "Bedroom", *AQARA_CONTACT,
            _contact("binary_sensor.bedroom_window", None, "window")),
    _device("b_thermostat", "Bedroom Radiator", "Bedroom", "tado°", "Smart Radiator Thermostat (VA02)",
            _climate("climate.bedroom_radiator", 18.0)),
    # Office
    _device("o_lamp", "Desk Lamp", "Office", *HUE_BULB, _light("light.desk_lamp")),
    _device("o_climate", "Office Climate", "Office", *AQARA_TH, *_climate_sensor("office", 21.5, 42)),
    _device("o_motion", "Office Motion", "Office", *HUE_MOTION,
            _contact("binary_sensor.office_motion", None, "motion")),
    _device("o_plug", "Monitor Plug", "Office", "TP-Link", "Kasa Smart Plug (KP115)",
            _switch("switch.monitor_plug"), _sensor("sensor.monitor_plug_power", "Power", "power", "W", 0.6)),
    # Garden
    _device("g_path", "Garden Path Lights", "Garden", "Signify Netherlands B.V.", "Hue Calla outdoor (1740193P0)",
            _light("light.garden_path")),
    _device("g_weather", "Outdoor Module", "Garden", "Netatmo", "Outdoor Module (NAModule1)",
            *_climate_sensor("garden", 9.5, 78)),
    _device("g_gate", "Garden Gate", "Garden", *AQARA_CONTACT, _contact("binary_sensor.garden_gate", None, "door")),
    _device("g_water", "Irrigation Valve", "Garden", "Gardena", "smart Water Control (19031)",
            _switch("switch.irrigation", "switch")),
    # Hallway
    _device("h_ceiling", "Hallway Ceiling", "Hallway", *HUE_BULB, _light("light.hallway_ceiling")),
    _device("h_motion", "Hallway Motion", "Hallway", *HUE_MOTION,
            _contact("binary_sensor.hallway_motion", None, "motion")),
    _device("h_door", "Front Door", "Hallway", *AQARA_CONTACT, _contact("binary_sensor.front_door", None, "door")),
    _device("h_p1", "Energy Meter", "Hallway", "HomeWizard", "Wi-Fi P1 Meter (HWE-P1)",
            _sensor("sensor.grid_power", "Grid power", "power", "W", 310.0)),
]


@dataclass(frozen=True)
class Rule:
    """An automation: when `trigger` turns `to`, call `service` on `targets` (which only this rule drives)."""

    automation_id: str
    alias: str
    trigger: str
    to: str
    service: str
    targets: tuple[str, ...]
    data: tuple[tuple[str, Any], ...] = ()

    @property
    def entity_id(self) -> str:
        """HA names an automation's entity after its alias."""
        return "automation." + re.sub(r"[^a-z0-9]+", "_", self.alias.lower()).strip("_")

    @property
    def target_state(self) -> str:
        return {"turn_on": "on", "turn_off": "off"}.get(self.service.split(".")[1]) or dict(self.data)["hvac_mode"]

    def config(self) -> dict[str, Any]:
        # queued: a trigger while a run is in progress waits instead of being dropped, so counts stay exact
        target = list(self.targets) if len(self.targets) > 1 else self.targets[0]
        return {"id": self.automation_id, "alias": self.alias, "mode": "queued", "max": 1000,
                "trigger": [{"platform": "state", "entity_id": self.trigger, "to": self.to}],
                "action": [{"service": self.service, "target": {"entity_id": target}, "data": dict(self.data)}]}


def _pair(area: str, sensor: str, *lights: str) -> list[Rule]:
    key = area.lower().replace(" ", "_")
    what = "lights" if len(lights) > 1 else "light"
    return [Rule(f"{key}_light_on_motion", f"{area}: {what} on when motion is detected", sensor, "on",
                 "light.turn_on", lights),
            Rule(f"{key}_light_off_when_clear", f"{area}: {what} off when motion clears", sensor, "off",
                 "light.turn_off", lights)]


RULES: list[Rule] = [
    # one call on two lights: HA fires one call_service event naming both, stored as a record per light
    *_pair("Hallway", "binary_sensor.hallway_motion", "light.hallway_ceiling", "light.living_room_ceiling"),
    *_pair("Kitchen", "binary_sensor.kitchen_motion", "light.kitchen_ceiling"),
    *_pair("Office", "binary_sensor.office_motion", "light.desk_lamp"),
    Rule("garden_path_on_gate_open", "Garden: path lights on when the gate opens", "binary_sensor.garden_gate", "on",
         "light.turn_on", ("light.garden_path",)),
    Rule("garden_path_off_gate_closed", "Garden: path lights off when the gate closes", "binary_sensor.garden_gate",
         "off", "light.turn_off", ("light.garden_path",)),
    Rule("bedroom_radiator_off_window_open", "Bedroom: radiator off while the window is open",
         "binary_sensor.bedroom_window", "on", "climate.set_hvac_mode", ("climate.bedroom_radiator",),
         (("hvac_mode", "off"),)),
    Rule("bedroom_radiator_on_window_closed", "Bedroom: radiator back on when the window closes",
         "binary_sensor.bedroom_window", "off", "climate.set_hvac_mode", ("climate.bedroom_radiator",),
         (("hvac_mode", "heat"),)),
]


def entities(platform: str | None = None) -> list[dict[str, Any]]:
    return [e for d in DEVICES for e in d["entities"] if platform is None or e["platform"] == platform]


def rules_for(trigger: str, to: str) -> list[Rule]:
    return [r for r in RULES if r.trigger == trigger and r.to == to]


def configuration(port: int, name: str = "HA Ingestor demo home") -> dict[str, Any]:
    """configuration.yaml for an offline HA 2024.3 on 127.0.0.1:`port` (facts: docs/home-assistant.md)."""
    return {
        "homeassistant": {"name": name, "latitude": 52.3731, "longitude": 4.8922, "elevation": 2,
                          "unit_system": "metric", "time_zone": "UTC", "currency": "EUR", "country": "NL"},
        "http": {"server_host": "127.0.0.1", "server_port": port},
        "api": {}, "websocket_api": {}, "config": {}, "history": {}, "logbook": {},
        "recorder": {"commit_interval": 1},  # with history and logbook, backs the bridge's backfill after a gap
        "logger": {"default": "warning"},
        "ingestor_demo": {"devices": DEVICES},
        "automation": [rule.config() for rule in RULES],
    }


def write_config(config_dir: Path, port: int) -> Path:
    """The config dir HA starts from: configuration.yaml plus the demo integration in custom_components/."""
    config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(CUSTOM_COMPONENTS, config_dir / "custom_components", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = config_dir / "configuration.yaml"
    path.write_text("# Generated by demo/home.py: the HA Ingestor sandbox home.\n"
                    + yaml.safe_dump(configuration(port), sort_keys=False, allow_unicode=True))
    return path
