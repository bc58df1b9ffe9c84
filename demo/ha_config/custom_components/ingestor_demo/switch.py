"""Smart plugs and valves answering switch.turn_on / turn_off."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from . import entity_specs
from .entity import DemoEntity


class DemoSwitch(DemoEntity, SwitchEntity):
    def __init__(self, device: dict[str, Any], spec: dict[str, Any]) -> None:
        super().__init__(device, spec)
        self._attr_is_on = bool(spec.get("initial", False))

    async def async_turn_on(self, **kwargs: Any) -> None:
        self._attr_is_on = True
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        self._attr_is_on = False
        self.async_write_ha_state()


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry, add: AddEntitiesCallback) -> None:
    add([DemoSwitch(device, spec) for device, spec in entity_specs(hass, "switch")])
