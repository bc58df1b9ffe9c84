"""What every demo entity shares: a fixed entity id, a unique id and the device it belongs to."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity

from . import DOMAIN


class DemoEntity(Entity):
    _attr_should_poll = False
    _attr_has_entity_name = True

    def __init__(self, device: dict[str, Any], spec: dict[str, Any]) -> None:
        self.entity_id = spec["entity_id"]
        self._attr_unique_id = f"ingestor_demo_{spec['entity_id']}"
        self._attr_name = spec.get("name")
        self._attr_device_class = spec.get("device_class")
        self._attr_icon = spec.get("icon")
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, device["id"])}, name=device["name"], manufacturer=device["manufacturer"],
            model=device["model"], sw_version=device.get("sw_version"), suggested_area=device["area"])

    def register(self, hass: HomeAssistant) -> None:
        """Reachable by the `ingestor_demo.set` service."""
        hass.data[DOMAIN]["entities"][self.entity_id] = self
