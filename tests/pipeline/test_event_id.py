"""event_id: replays and re-fetches of one HA event collide; different events do not."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from ingestor.event_id import event_id, state_event_id
from tests.support.ha_events import get_states, recorded


def light_on() -> dict[str, Any]:
    return recorded("state_changed")[0]


def call_service() -> dict[str, Any]:
    """A call_service event in HA 2024.3's wire shape."""
    return {
        "event_type": "call_service",
        "data": {"domain": "input_boolean", "service": "turn_on",
                 "service_data": {"entity_id": "input_boolean.living_room_light"}},
        "origin": "LOCAL",
        "time_fired": "2026-11-22T11:27:31.768000+00:00",
        "context": {"id": "01M81G5SXSR9VEPMR50TY4GN0R", "parent_id": None,
                    "user_id": "e243fa91b1db4c91955005050c9e4671"},
    }


def all_recorded() -> list[dict[str, Any]]:
    names = ("state_changed_parent_chain", "state_changed_same_context")
    return [event for name in names for event in recorded(name)]


def test_id_is_32_lowercase_hex_characters() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", event_id(light_on()))
    assert re.fullmatch(r"[0-9a-f]{32}", event_id(call_service()))


def test_same_event_gets_same_id() -> None:
    assert event_id(light_on()) == event_id(light_on())
    assert event_id(call_service()) == event_id(copy.deepcopy(call_service()))


def test_state_from_history_api_gets_the_id_of_the_state_changed_event_carrying_it() -> None:
    event = light_on()
    new_state = event["data"]["new_state"]
    history_entry = {key: new_state[key] for key in ("entity_id", "state", "attributes", "last_changed",
                                                     "last_updated")}
    assert state_event_id(history_entry) == event_id(event)


def test_state_from_get_states_matches_the_same_state_inside_a_state_changed_event() -> None:
    # Real data: get_states returned the template sensor's state that the later event reports as old_state.
    from_get_states = next(s for s in get_states() if s["entity_id"] == "sensor.living_room_temperature")
    old_state = recorded("state_changed_same_context")[1]["data"]["old_state"]
    assert state_event_id(from_get_states) == state_event_id(old_state)


def test_state_id_ignores_how_last_updated_is_written() -> None:
    state = light_on()["data"]["new_state"]
    as_z = {**state, "last_updated": "2026-11-22T11:27:31.769542Z"}
    as_offset = {**state, "last_updated": "2026-11-22T13:27:31.769542+02:00"}
    assert state_event_id(as_z) == state_event_id(as_offset) == state_event_id(state)


def test_state_changed_id_ignores_context_so_restored_states_collide() -> None:
    replay = light_on()
    replay["context"] = {"id": "01NEWCONTEXTAFTERRESTART00", "parent_id": None, "user_id": None}
    replay["data"]["new_state"]["context"] = replay["context"]
    replay["time_fired"] = "2026-11-22T12:00:00.000000+00:00"
    assert event_id(replay) == event_id(light_on())


def test_state_changed_id_ignores_attributes_and_old_state() -> None:
    changed = light_on()
    changed["data"]["new_state"]["attributes"]["icon"] = "mdi:lamp"
    changed["data"]["old_state"] = None
    assert event_id(changed) == event_id(light_on())


@pytest.mark.parametrize(("path", "value"), [
    (("data", "new_state", "state"), "off"),
    (("data", "new_state", "last_updated"), "2026-11-22T11:27:31.769543+00:00"),
])
def test_state_changed_id_changes_with_state_or_last_updated(path: tuple[str, ...], value: str) -> None:
    changed = light_on()
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert event_id(changed) != event_id(light_on())


def test_state_changed_id_changes_with_entity() -> None:
    other = light_on()
    other["data"]["entity_id"] = other["data"]["new_state"]["entity_id"] = "input_boolean.kitchen_light"
    assert event_id(other) != event_id(light_on())


def test_removed_entity_is_identified_by_time_fired() -> None:
    removed = light_on()
    removed["data"]["new_state"] = None
    later = copy.deepcopy(removed)
    later["time_fired"] = "2026-11-22T11:27:32.000000+00:00"
    assert event_id(removed) == event_id(copy.deepcopy(removed))
    assert event_id(removed) != event_id(later)
    assert event_id(removed) != event_id(light_on())


def test_non_state_id_ignores_key_order_in_data() -> None:
    event = call_service()
    reordered = {**event, "data": dict(reversed(list(event["data"].items())))}
    assert list(reordered["data"]) != list(event["data"])
    assert event_id(reordered) == event_id(event)


@pytest.mark.parametrize(("key", "value"), [
    ("event_type", "service_registered"),
    ("time_fired", "2026-11-22T11:27:31.768001+00:00"),
    ("context", {"id": "01M81G5SXSWE0Y1B7XWHMS3C22", "parent_id": None, "user_id": None}),
    ("data", {"domain": "input_boolean", "service": "turn_off",
              "service_data": {"entity_id": "input_boolean.living_room_light"}}),
])
def test_non_state_id_changes_with_type_time_context_or_data(key: str, value: object) -> None:
    assert event_id({**call_service(), key: value}) != event_id(call_service())


def test_non_state_id_does_not_depend_on_how_time_fired_is_written() -> None:
    assert event_id({**call_service(), "time_fired": "2026-11-22T11:27:31.768Z"}) == event_id(call_service())


def test_every_real_sample_event_gets_a_distinct_id() -> None:
    events = all_recorded()
    assert len({event_id(event) for event in events}) == len(events) == 6


def test_naive_last_updated_cannot_be_hashed() -> None:
    event = light_on()
    event["data"]["new_state"]["last_updated"] = "2026-11-22T11:27:31.769542"
    with pytest.raises(ValueError, match="no timezone offset"):
        event_id(event)


def automation_triggered() -> dict[str, Any]:
    return {"event_type": "automation_triggered",
            "data": {"name": "Count lights turned on", "entity_id": "automation.count_lights_turned_on",
                     "source": "state of input_boolean.living_room_light"},
            "origin": "LOCAL", "time_fired": "2026-11-30T12:57:05.604079+00:00",
            "context": {"id": "01M8P8FHT3SWFRDAFC9J4M15DM", "parent_id": "01M8P8FHSZHMGZ2JBQZ0R0J08Q", "user_id": None}}


def test_an_automation_run_is_identified_by_its_time_context_and_entity_not_its_parent_or_other_data() -> None:
    """HA's logbook gives back the run's context id but not its parent: the rebuilt run must collide."""
    rebuilt = automation_triggered()
    rebuilt["context"] = {**rebuilt["context"], "parent_id": None}
    rebuilt["data"] = {k: v for k, v in rebuilt["data"].items() if k != "source"}
    assert event_id(rebuilt) == event_id(automation_triggered())
    other_run = {**automation_triggered(), "context": {**automation_triggered()["context"], "id": "01OTHER"}}
    assert event_id(other_run) != event_id(automation_triggered())


def test_a_logbook_entry_is_identified_without_its_context_which_the_logbook_does_not_give() -> None:
    entry = {"event_type": "logbook_entry", "data": {"name": "Door", "message": "opened"},
             "origin": "LOCAL", "time_fired": "2026-11-30T12:57:05.619471+00:00",
             "context": {"id": "01M8P8FHTK6XFT8AW92V2NW6DE", "parent_id": None, "user_id": None}}
    rebuilt = {**entry, "context": {"id": "backfill-x", "parent_id": None, "user_id": None}}
    assert event_id(rebuilt) == event_id(entry)
    assert event_id({**entry, "data": {"name": "Door", "message": "closed"}}) != event_id(entry)


def test_ha_s_start_and_stop_are_identified_by_their_moment() -> None:
    stop = {"event_type": "homeassistant_stop", "data": {}, "origin": "LOCAL",
            "time_fired": "2026-11-30T12:57:07.633311+00:00",
            "context": {"id": "01A", "parent_id": None, "user_id": None}}
    assert event_id({**stop, "context": {"id": "backfill-y"}}) == event_id(stop)
    assert event_id({**stop, "event_type": "homeassistant_start"}) != event_id(stop)
