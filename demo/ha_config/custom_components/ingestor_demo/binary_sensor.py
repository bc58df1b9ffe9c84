"""Motion, door and window contacts that the driver opens and closes through `ingestor_demo.set`."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from . import entity_specs
from .entity import DemoEntity


class DemoBinarySensor(DemoEntity, BinarySensorEntity):
    def __init__(self, device: dict[str, Any], spec: dict[str, Any]) -> None:
        super().__init__(device, spec)
        self._attr_is_on = bool(spec.get("initial", False))

    def set_demo_value(self, value: Any) -> None:
        self._attr_is_on = value is True or str(value).lower() in ("on", "true", "1", "open", "detected")
        self.async_write_ha_state()


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry, add: AddEntitiesCallback) -> None:
    entities = [DemoBinarySensor(device, spec) for device, spec in entity_specs(hass, "binary_sensor")]
    for entity in entities:
        entity.register(hass)
    add(entities)
