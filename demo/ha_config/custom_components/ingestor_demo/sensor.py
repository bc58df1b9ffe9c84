"""Readings (temperature, humidity, power, illuminance) that the driver sets through `ingestor_demo.set`."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from . import entity_specs
from .entity import DemoEntity


class DemoSensor(DemoEntity, SensorEntity):
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, device: dict[str, Any], spec: dict[str, Any]) -> None:
        super().__init__(device, spec)
        self._attr_native_unit_of_measurement = spec.get("unit")
        self._attr_native_value = spec.get("initial")

    def set_demo_value(self, value: Any) -> None:
        self._attr_native_value = float(value)
        self.async_write_ha_state()


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry, add: AddEntitiesCallback) -> None:
    entities = [DemoSensor(device, spec) for device, spec in entity_specs(hass, "sensor")]
    for entity in entities:
        entity.register(hass)
    add(entities)
