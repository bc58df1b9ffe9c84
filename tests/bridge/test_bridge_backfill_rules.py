"""The backfill's rules on real HA 2024.3.3 data (tests/support/ha_samples/sample_logbook.json): events rebuilt from
the logbook and the history get the ids of the live events they stand for, exactly what HA gives back is kept,
and what it does not give is marked, never invented."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ha_bridge import backfill, logbook
from ha_bridge.gaps import Gap, Gaps
from ingestor.event_id import event_id
from ingestor.validation import ValidationRules, validate_event
from tests.bridge.replay import compressed
from tests.support.ha_events import sample

RECORDING = sample("logbook")
LIVE = RECORDING["live"]
ROWS = RECORDING["logbook"]
REBUILT = logbook.events(ROWS, logbook.BACKFILLABLE)


def live_of(kind: str) -> list[dict[str, Any]]:
    return [e for e in LIVE if e["event_type"] == kind]


def rebuilt_with_id(live: dict[str, Any]) -> dict[str, Any]:
    (match,) = [e for e in REBUILT if event_id(e) == event_id(live)]
    return match


@pytest.mark.parametrize("kind", ["automation_triggered", "script_started", "logbook_entry"])
def test_a_non_state_event_rebuilt_from_the_logbook_has_the_id_data_and_time_of_the_live_one(kind: str) -> None:
    lives = live_of(kind)
    assert lives, f"the recording has no live {kind}"
    for live in lives:
        rebuilt = rebuilt_with_id(live)
        assert rebuilt["data"] == live["data"]
        assert dt.datetime.fromisoformat(rebuilt["time_fired"]) == dt.datetime.fromisoformat(live["time_fired"])
        assert rebuilt["context"]["user_id"] == live["context"]["user_id"]
        assert validate_event(rebuilt, ValidationRules()) is None


def test_automations_and_scripts_keep_their_real_context_id_and_only_the_parent_is_marked_unknown() -> None:
    for live in live_of("automation_triggered") + live_of("script_started"):
        rebuilt = rebuilt_with_id(live)
        assert rebuilt["context"] == {"id": live["context"]["id"], "parent_id": None,
                                      "user_id": live["context"]["user_id"]}
        assert rebuilt["backfill"] == {"source": "logbook", "unknown": ["parent_id"]}
    assert any(e["context"]["parent_id"] for e in live_of("automation_triggered")), "no parent to lose in the sample"


def test_a_logbook_entry_whose_context_the_logbook_does_not_give_is_marked_not_invented() -> None:
    for live in live_of("logbook_entry"):
        rebuilt = rebuilt_with_id(live)
        assert rebuilt["context"]["id"] == f"backfill-{event_id(live)}" != live["context"]["id"]
        assert rebuilt["backfill"] == {"source": "logbook", "unknown": ["id", "parent_id"]}


def test_ha_s_stops_and_starts_come_back_from_the_logbook_though_no_client_receives_them_live() -> None:
    assert not live_of("homeassistant_stop") and not live_of("homeassistant_start")
    lifecycle = [(e["event_type"], e["time_fired"]) for e in REBUILT if e["event_type"].startswith("homeassistant_")]
    assert [kind for kind, _ in lifecycle] == ["homeassistant_start", "homeassistant_stop", "homeassistant_start"]
    stop = next(e for e in REBUILT if e["event_type"] == "homeassistant_stop")
    assert stop["data"] == {} and stop["context"]["id"].startswith("backfill-")
    assert validate_event(stop, ValidationRules()) is None


def test_state_change_rows_and_other_integrations_events_are_not_rebuilt_from_the_logbook() -> None:
    state_rows = [r for r in ROWS if "state" in r]
    assert state_rows and all(logbook.event_of(r) is None for r in state_rows)
    homekit = {"name": "HomeKit", "message": "send command turn_on for Lamp", "entity_id": "light.lamp",
               "when": 1796043425.5, "domain": "homekit"}  # an integration's describe_event row: keys in its order
    assert logbook.event_of(homekit) is None


def test_only_the_event_types_the_bridge_subscribes_to_are_rebuilt() -> None:
    only = logbook.events(ROWS, ["automation_triggered"])
    assert only and {e["event_type"] for e in only} == {"automation_triggered"}


def test_the_latest_backfilled_change_of_an_entity_takes_its_real_context_from_get_states() -> None:
    counter = [e for e in LIVE if e["event_type"] == "state_changed"
               and e["data"]["entity_id"] == "counter.light_on_events"]  # 0 -> 1 (automation), 1 -> 2 (script)
    one, two = counter[0]["data"], counter[1]["data"]
    cursor = dt.datetime.fromisoformat(one["old_state"]["last_updated"])
    rows = [compressed(one["old_state"]), compressed(one["new_state"]), compressed(two["new_state"])]
    first, latest = backfill.events_for_entity(two["entity_id"], rows, cursor.timestamp(), cursor.timestamp() - 15,
                                               known=None, current=two["new_state"])
    assert latest["context"] == two["new_state"]["context"] == latest["data"]["new_state"]["context"]
    assert latest["backfill"] == {"source": "history", "unknown": []}
    assert first["context"]["id"] == f"backfill-{event_id(counter[0])}"
    assert first["backfill"]["unknown"] == ["id", "parent_id", "user_id"]
    assert [event_id(first), event_id(latest)] == [event_id(e) for e in counter]


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, 1, hour, minute, tzinfo=dt.UTC)


def test_gaps_merge_when_they_overlap_survive_a_restart_and_expire_beyond_recovery(tmp_path: Path) -> None:
    gaps = Gaps(tmp_path)
    gaps.add(at(1), at(2))
    gaps.add(at(1, 30), at(3))
    gaps.add(at(5), at(6))
    assert Gaps(tmp_path).pending() == [Gap(at(1), at(3)), Gap(at(5), at(6))]
    assert gaps.expire(oldest=at(4)) == [Gap(at(1), at(3))]
    gaps.done(Gap(at(5), at(6)))
    assert Gaps(tmp_path).pending() == []
