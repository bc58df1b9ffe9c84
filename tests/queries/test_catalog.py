"""Devices, entities and areas from the metadata DB (the store backend does not matter; run on each anyway)."""

from __future__ import annotations

import pytest

from tests.queries import dataset
from tests.queries.conftest import Served


def test_devices_list_with_area_names_and_entity_counts(api: Served) -> None:
    body = api.ok("/devices")
    by_id = {d["device_id"]: d for d in body["items"]}
    assert set(by_id) == {d[0] for d in dataset.DEVICES}
    assert by_id["dev_plug"] | {} == {**by_id["dev_plug"], "name": "Kitchen Plug", "manufacturer": "Shelly",
                                      "model": "Plug S", "area_id": "kitchen", "area_name": "Kitchen",
                                      "entity_count": 2, "sw_version": "1.0"}
    assert [d["name"] for d in body["items"]] == sorted(d["name"] for d in body["items"])


@pytest.mark.parametrize(("query", "expected"), [
    ({"manufacturer": "Acme"}, {"dev_thermo", "dev_quiet"}), ({"model": "Hue Bulb"}, {"dev_light"}),
    ({"area_id": "kitchen"}, {"dev_light", "dev_plug"}), ({"platform": "shelly"}, {"dev_plug"}),
    ({"q": "PLUG"}, {"dev_plug"}), ({"q": "%"}, set()), ({"q": "_"}, {d[0] for d in dataset.DEVICES}),
    ({"manufacturer": "' OR 1=1 --"}, set()),
])
def test_device_filters(api: Served, query: dict[str, str], expected: set[str]) -> None:
    assert {d["device_id"] for d in api.ok("/devices", **query)["items"]} == expected


def test_device_pages_cover_every_device_once(api: Served) -> None:
    seen, cursor = [], None
    while True:
        body = api.ok("/devices", limit=2, cursor=cursor)
        seen += [d["device_id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(d[0] for d in dataset.DEVICES) and len(seen) == len(set(seen))


def test_one_device_with_its_entities(api: Served) -> None:
    body = api.ok("/devices/dev_thermo")
    assert body["name"] == "Thermostat"
    assert [e["entity_id"] for e in body["entities"]] == ["sensor.living_humidity", "sensor.living_temperature"]
    assert body["entities"][0]["area_id"] == "living_room"  # the device's area


def test_an_unknown_device_is_a_404(api: Served) -> None:
    reply = api.get("/devices/nope'--")
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("query", "expected"), [
    ({"domain": "sensor"}, {e[0] for e in dataset.ENTITIES if e[0].startswith("sensor.")}),
    ({"platform": "hue"}, {"light.kitchen"}), ({"device_id": "dev_plug"}, {"switch.kitchen_plug",
                                                                            "sensor.kitchen_plug_power"}),
    ({"area_id": "kitchen"}, {"light.kitchen", "switch.kitchen_plug", "sensor.kitchen_plug_power"}),
    ({"q": "motion"}, {"binary_sensor.bedroom_motion", "automation.motion_light"}), ({"q": "%"}, set()),
])
def test_entity_filters(api: Served, query: dict[str, str], expected: set[str]) -> None:
    assert {e["entity_id"] for e in api.ok("/entities", **query)["items"]} == expected


def test_an_entity_is_named_as_ha_displays_it_with_its_device_area_and_unit(api: Served) -> None:
    """HA's registry names it "Power" (the device's name is prepended): "Power" alone says nothing in a list."""
    power = next(e for e in api.ok("/entities", device_id="dev_plug")["items"] if e["entity_id"] == dataset.HA_NAMED)
    assert power["name"] == "Kitchen Plug Power"
    assert (power["device_name"], power["area_id"], power["area_name"]) == ("Kitchen Plug", "kitchen", "Kitchen")
    assert (power["unit_of_measurement"], power["unit"]) == ("W", "watt")


def test_entity_pages_cover_every_entity_once(api: Served) -> None:
    seen, cursor = [], None
    while True:
        body = api.ok("/entities", limit=3, cursor=cursor)
        seen += [e["entity_id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(e[0] for e in dataset.ENTITIES)


def test_a_forged_catalog_cursor_is_a_400(api: Served) -> None:
    for path in ("/devices", "/entities"):
        reply = api.get(path, cursor="eyJ4Ijox")
        assert reply.status == 400 and reply.json()["error"]["message"].startswith("cursor:")


def test_areas_with_device_and_entity_counts(api: Served) -> None:
    body = api.ok("/areas")
    assert {a["area_id"]: (a["name"], a["device_count"], a["entity_count"]) for a in body["items"]} == {
        "living_room": ("Living Room", 1, 2), "kitchen": ("Kitchen", 2, 3), "bedroom": ("Bedroom", 1, 1),
        "attic": ("Attic", 1, 1)}
