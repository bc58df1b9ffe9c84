"""Real HA → bridge → NATS → validate → normalize → weather-enrich → write → SQLite → query API, end to end.

The demo's driver changes the sandbox home through HA's REST API; HA's own WebSocket says what that caused
(the state changes of the driven entities, the automation runs and the lights they switch); the query API
must then hold exactly that: per entity, per event type, no more, no less, and nothing dead-lettered.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any

import pytest

from demo import home
from demo.driver import Driver, Expected, HAClient
from demo.recorder import EventRecorder
from ingestor import subjects
from tests.e2e.conftest import Sandbox
from tests.e2e.reads import QueryAPI, iso
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_until

pytestmark = pytest.mark.integration

STEPS = 80
HOME_ENTITIES = {e["entity_id"] for e in home.entities()} | {rule.entity_id for rule in home.RULES}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def settled(read: Any, wanted: Any, timeout: float = 120) -> Any:
    """read() once it equals `wanted`, or its last value after `timeout` (for the assertion's diff)."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


def per_entity(events: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["event_type"], e["entity_id"]) for e in events if e["entity_id"] in HOME_ENTITIES)


@pytest.fixture(scope="module")
def driven(sandbox: Sandbox) -> tuple[Expected, EventRecorder, dt.datetime, dt.datetime]:
    """STEPS believable steps of the driver, quickly, and the home brought to rest; what HA fired meanwhile."""
    recorder = EventRecorder(sandbox.ha.ws_url, sandbox.ha.token or "")
    start = now() - dt.timedelta(seconds=1)
    client = HAClient(sandbox.ha.url, sandbox.ha.token or "")
    expected = Driver(client, seed=2024).run(steps=STEPS, interval=(0.0, 0.05))
    client.close()
    recorder.quiet_for(3)
    end = now() + dt.timedelta(seconds=1)
    recorder.close()
    return expected, recorder, start, end


def test_the_driver_knows_exactly_what_its_changes_make_home_assistant_fire(driven: Any) -> None:
    expected, recorder, _, _ = driven
    fired, services = recorder.counts(HOME_ENTITIES)
    assert fired == expected.events
    assert services == expected.call_service
    assert any(kind == "automation_triggered" for kind, _ in fired), "the steps ran no automation"


def test_every_caused_event_is_queryable_exactly_once(sandbox: Sandbox, driven: Any) -> None:
    expected, _, start, end = driven
    api = QueryAPI(sandbox.query_url)
    assert settled(lambda: per_entity(api.events(start, end)), expected.events) == expected.events
    time.sleep(3)  # anything late and extra (a duplicate) would show now
    events = api.events(start, end)
    assert per_entity(events) == expected.events
    assert sum(1 for e in events if e["event_type"] == "call_service") == expected.call_service
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was stored twice"


def test_the_summary_counts_each_entity_by_event_type_as_caused(sandbox: Sandbox, driven: Any) -> None:
    expected, _, start, end = driven
    api = QueryAPI(sandbox.query_url)
    wait_until(lambda: per_entity(api.events(start, end)) == expected.events, 120, "the caused events stored")
    for entity_id in sorted(HOME_ENTITIES):
        wanted = Counter({kind: n for (kind, entity), n in expected.events.items() if entity == entity_id})
        assert api.by_event_type(start, end, entity_id) == wanted, entity_id


def test_lights_switched_by_an_automation_carry_the_motion_that_caused_it(sandbox: Sandbox, driven: Any) -> None:
    _, _, start, end = driven
    api = QueryAPI(sandbox.query_url)
    wait_until(lambda: api.events(start, end, event_type="automation_triggered"), 120, "automation runs stored")
    rule = next(r for r in home.RULES if r.automation_id == "hallway_light_on_motion")
    triggers = {e["context"]["id"]: e for e in api.events(start, end, entity_id=rule.trigger)
                if e["event_type"] == "state_changed" and e["state"] == "on"}
    runs = [e for e in api.events(start, end, entity_id=rule.entity_id) if e["event_type"] == "automation_triggered"]
    assert runs, "no hallway motion in the driven steps"
    for light, area in zip(rule.targets, ("hallway", "living_room"), strict=True):
        switched = {e["context"]["id"]: e for e in api.events(start, end, entity_id=light, event_type="state_changed")
                    if e["state"] == "on"}
        for run in runs:
            assert run["context"]["parent_id"] in triggers, "the run's parent is the motion that triggered it"
            change = switched[run["context"]["id"]]  # the light's change happened in the run's context
            assert change["area_id"] == area
            assert change["device_manufacturer"] == "Signify Netherlands B.V."


def test_an_automation_s_call_on_two_lights_is_a_record_per_light_that_counts_filters_and_areas_see(
        sandbox: Sandbox, driven: Any) -> None:
    """HA fires one call_service event whose service_data.entity_id lists both lights of the hallway rule."""
    _, recorder, start, end = driven
    api = QueryAPI(sandbox.query_url)
    rule = next(r for r in home.RULES if r.automation_id == "hallway_light_on_motion")
    fired = [e for _, e in recorder.events if e["event_type"] == "call_service" and e["data"]["service"] == "turn_on"
             and e["data"]["service_data"].get("entity_id") == list(rule.targets)]
    assert fired, "the hallway rule never ran"
    calls = wait_until(lambda: (found := [e for e in api.events(start, end, event_type="call_service")
                                          if e["context"]["id"] in {f["context"]["id"] for f in fired}])
                       and len(found) >= 2 * len(fired) and found, 120, "the rule's calls stored")
    by_context: dict[str, list[dict[str, Any]]] = {}
    for record in calls:
        by_context.setdefault(record["context"]["id"], []).append(record)
    for event in fired:
        records = sorted(by_context[event["context"]["id"]], key=lambda r: r["entity_id"])
        assert [(r["entity_id"], r["domain"], r["area_id"]) for r in records] == [
            ("light.hallway_ceiling", "light", "hallway"), ("light.living_room_ceiling", "light", "living_room")]
        assert all((r["data"]["domain"], r["data"]["service"]) == ("light", "turn_on") for r in records)
        assert [r["data"]["service_data"]["entity_id"] for r in records] == sorted(rule.targets)
    for light, area in zip(rule.targets, ("hallway", "living_room"), strict=True):
        assert api.by_event_type(start, end, light)["call_service"] >= len(fired)
        in_area = api.get("/stats/summary", start=iso(start), end=iso(end), area_id=area, event_type="call_service",
                          top=100)
        assert any(row["key"] == light for row in in_area["top_entities"])
    summary = api.get("/stats/summary", start=iso(start), end=iso(end), event_type="call_service", top=100)
    assert None not in {row["key"] for row in summary["by_area"]}, "a call without an area"


def test_the_home_s_devices_and_areas_reach_the_query_api_from_ha_s_registries(sandbox: Sandbox) -> None:
    api = QueryAPI(sandbox.query_url)
    devices = wait_until(lambda: (items := api.get("/devices", limit=100)["items"]) and len(items) >= len(home.DEVICES)
                         and items, 60, "HA's device registry in the metadata DB")
    got = {(d["name"], d["manufacturer"], d["model"], d["area_id"]) for d in devices}
    wanted = {(d["name"], d["manufacturer"], d["model"], d["area"].lower().replace(" ", "_")) for d in home.DEVICES}
    assert got == wanted


def test_nothing_was_dead_lettered(sandbox: Sandbox, driven: Any) -> None:
    expected, _, start, end = driven
    wait_until(lambda: per_entity(QueryAPI(sandbox.query_url).events(start, end)) == expected.events, 120,
               "the caused events stored")
    js = JetStreamClient(sandbox.runtime.nats_url)
    try:
        assert js.messages(subjects.DLQ) == []
    finally:
        js.close()
