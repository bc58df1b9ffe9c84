"""The demo home's devices for HA Ingestor's sandbox Home Assistant (runs inside HA 2024.3, offline).

HA registers devices (and creates the areas they suggest) only for entities of a config entry that carry
a unique_id and device_info; YAML helpers and template entities have none. This small integration reads
the home described under `ingestor_demo:` in configuration.yaml (written by demo/home.py) and creates
those devices with their manufacturers, models and areas, so the ingestor sees a believable registry.
The driver changes sensor readings through the `ingestor_demo.set` service (lights, switches and climate
answer their usual services).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import SOURCE_IMPORT, ConfigEntry
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

DOMAIN = "ingestor_demo"
PLATFORMS = ["binary_sensor", "climate", "light", "sensor", "switch"]
CONFIG_SCHEMA = vol.Schema({DOMAIN: vol.Schema({vol.Required("devices"): list})}, extra=vol.ALLOW_EXTRA)
SET_SCHEMA = vol.Schema({vol.Required("entity_id"): cv.entity_ids, vol.Required("value"): vol.Any(str, int, float,
                                                                                                    bool)})


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    hass.data[DOMAIN] = {"devices": config.get(DOMAIN, {}).get("devices", []), "entities": {}}
    if not hass.config_entries.async_entries(DOMAIN):
        hass.async_create_task(hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_IMPORT},
                                                                   data={}))

    async def set_value(call: ServiceCall) -> None:
        for entity_id in call.data["entity_id"]:
            entity = hass.data[DOMAIN]["entities"].get(entity_id)
            if entity is None:
                raise vol.Invalid(f"{entity_id} is not a demo sensor")
            entity.set_demo_value(call.data["value"])

    hass.services.async_register(DOMAIN, "set", set_value, schema=SET_SCHEMA)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


def entity_specs(hass: HomeAssistant, platform: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(device, entity) pairs of one platform from the configured home."""
    return [(device, entity) for device in hass.data[DOMAIN]["devices"] for entity in device["entities"]
            if entity["platform"] == platform]
