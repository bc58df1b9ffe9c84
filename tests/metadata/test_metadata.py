"""The metadata DB fed with real HA registry messages, and the placement normalize joins into events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingestor.metadata.directory import Directory
from ingestor.metadata.registry import MetadataDB, problem
from tests.support.ha_events import sample

CONFIG = {"latitude": 52.37, "longitude": 4.89, "time_zone": "Europe/Amsterdam", "version": "2024.3.3",
          "state": "RUNNING", "unit_system": {"temperature": "°C"}}


def snapshot(snapshot_id: str, drop_entities: int = 0) -> list[dict[str, Any]]:
    """A complete snapshot from the recorded registry lists, as the bridge publishes it."""
    lists = {
        "config": [CONFIG],
        "areas": sample("area_registry_list")["reply"]["result"],
        "devices": sample("device_registry_list")["reply"]["result"],
        "entities": sample("entity_registry_list")["reply"]["result"][drop_entities:],
        "states": sample("get_states")["reply"]["result"][drop_entities:],
    }
    return [{"type": kind, "snapshot_id": snapshot_id, "fetched_at": "2026-11-22T11:30:00.000000Z",
             "ha_version": "2024.3.3", "part": i, "parts": len(lists), "items": items}
            for i, (kind, items) in enumerate(lists.items(), start=1)]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> MetadataDB:
    if request.param == "sqlite":
        return MetadataDB(f"sqlite:///{tmp_path}/metadata.db")
    return MetadataDB(request.getfixturevalue("postgres").new_database())


def place(db: MetadataDB, entity_id: str) -> dict[str, Any]:
    return Directory(db, ttl_s=0).place({"entity_id": entity_id})


def test_an_entity_takes_its_own_area(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    assert place(db, "input_boolean.living_room_light") == {
        "entity_id": "input_boolean.living_room_light", "device_id": None, "area_id": "living_room",
        "device_manufacturer": None, "device_model": None}


def test_an_entity_without_an_area_takes_its_devices(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    placed = place(db, "sensor.uptime")
    assert (placed["device_id"], placed["area_id"]) == ("0d3826753d64db6784f4d2cf200c758c", "office")


def test_an_unknown_entity_is_left_as_it_is(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    assert place(db, "sensor.not_in_home") == {"entity_id": "sensor.not_in_home"}


def test_ha_config_is_kept_for_the_context_sources(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    assert db.ha_config() == CONFIG


def test_counts_of_what_the_home_has(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    health = db.health()
    assert (health["status"], health["areas"], health["devices"]) == ("ok", 4, 1)
    registered = {e["entity_id"] for e in sample("entity_registry_list")["reply"]["result"]}
    stated = {s["entity_id"] for s in sample("get_states")["reply"]["result"]}
    assert health["entities"] == len(registered | stated)


def test_a_complete_snapshot_marks_what_is_gone_as_removed(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    gone = sample("entity_registry_list")["reply"]["result"][0]["entity_id"]
    before = db.health()["entities"]
    db.apply(snapshot("s2", drop_entities=1))
    assert place(db, gone) == {"entity_id": gone}
    assert db.health()["entities"] == before - 1


def test_an_incomplete_snapshot_removes_nothing(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    before = db.health()["entities"]
    db.apply(snapshot("s2", drop_entities=1)[:3])  # config, areas, devices: entities and states still to come
    assert db.health()["entities"] == before


def test_a_removed_entity_that_returns_is_present_again(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    db.apply(snapshot("s2", drop_entities=1))
    db.apply(snapshot("s3"))
    assert place(db, "sensor.uptime")["area_id"] == "office"


def test_applying_the_same_snapshot_twice_changes_nothing(db: MetadataDB) -> None:
    db.apply(snapshot("s1"))
    first = db.health()
    db.apply(snapshot("s1"))
    assert db.health() == first


@pytest.mark.parametrize(("part", "reason"), [
    ("junk", "part: expected an object"),
    ({"type": "gadgets"}, "type: expected one of"),
    ({"type": "areas", "snapshot_id": "", "part": 0, "parts": 1, "items": []}, "snapshot_id"),
    ({"type": "areas", "snapshot_id": "s", "part": 0, "parts": 1, "items": []}, "part/parts"),
    ({"type": "areas", "snapshot_id": "s", "part": 2, "parts": 1, "items": []}, "part/parts"),
    ({"type": "areas", "snapshot_id": "s", "part": 1, "parts": 1, "items": [{"name": "x"}]}, "area_id"),
    ({"type": "devices", "snapshot_id": "s", "part": 1, "parts": 1, "items": ["x"]}, "list of objects"),
])
def test_malformed_parts_are_refused_with_a_reason(part: Any, reason: str) -> None:
    assert reason in (problem(part) or "")


def part_of(kind: str, *items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": kind, "snapshot_id": "s1", "part": 1, "parts": 1, "items": list(items), **fields}


@pytest.mark.parametrize(("part", "reason"), [
    (part_of("devices", {"id": "d1", "name": {"en": "Lamp"}}), "items[0].name: expected a string or null, got dict"),
    (part_of("entities", {"entity_id": "light.a", "platform": ["hue"]}), "items[0].platform: expected a string"),
    (part_of("areas", {"area_id": "a", "icon": 7}), "items[0].icon: expected a string or null, got int"),
    (part_of("areas", {"area_id": "kitchen"}, {"area_id": "x\x00y"}), "items[1].area_id: NUL characters"),
    (part_of("entities", {"entity_id": "x" * 80 + ".a"}), "items[0].domain: at most 64 characters"),
    (part_of("entities", {"entity_id": "light." + "a" * 300}), "items[0].entity_id: at most 255 characters"),
    (part_of("states", {"entity_id": "light.a", "attributes": ["x"]}), "attributes must be an object or null"),
    (part_of("states", {"entity_id": "light.a", "last_changed": "2" * 40}), "items[0].last_changed: at most 32"),
    (part_of("areas", snapshot_id="s" * 65), "snapshot_id: at most 64 characters"),
    (part_of("areas", part=1, parts=2**63), "part/parts: expected integers"),
])
def test_a_part_the_database_could_not_store_is_refused_naming_the_item_and_field(part: Any, reason: str) -> None:
    assert reason in (problem(part) or ""), problem(part)


def test_real_home_assistant_registry_parts_pass_the_check() -> None:
    assert [problem(p) for p in snapshot("s1")] == [None] * 5


def test_a_part_at_every_limit_is_accepted_and_stored(db: MetadataDB) -> None:
    longest = "d" * 64 + "." + "e" * 190  # a 64-character domain in a 255-character entity id
    parts = [part_of("entities", {"entity_id": longest, "unique_id": 12345, "name": "Ünïcode ☃ " * 100},
                     snapshot_id="s" * 64, parts=2),
             part_of("states", {"entity_id": longest, "state": 21.5, "attributes": None}, snapshot_id="s" * 64,
                     part=2, parts=2)]
    assert [problem(p) for p in parts] == [None, None]
    db.apply(parts)
    assert db.health()["entities"] == 1


def test_events_seen_before_the_registry_snapshot_get_their_area_once_it_is_applied(db: MetadataDB) -> None:
    directory = Directory(db, ttl_s=3600)  # the periodic refresh alone would wait an hour
    directory.miss_reload_s = 0
    assert directory.place({"entity_id": "input_boolean.living_room_light"}).get("area_id") is None
    db.apply(snapshot("s1"))
    assert directory.place({"entity_id": "input_boolean.living_room_light"})["area_id"] == "living_room"


def test_a_fresh_directory_places_from_what_it_read_without_reading_again(db: MetadataDB) -> None:
    directory = Directory(db, ttl_s=3600)
    directory.miss_reload_s = 3600  # neither the refresh nor a miss is due within the test
    assert directory.place({"entity_id": "input_boolean.living_room_light"}).get("area_id") is None
    db.apply(snapshot("s1"))
    assert directory.place({"entity_id": "input_boolean.living_room_light"}).get("area_id") is None
    directory.miss_reload_s = 0  # a miss is due now: read again
    assert directory.place({"entity_id": "input_boolean.living_room_light"})["area_id"] == "living_room"
