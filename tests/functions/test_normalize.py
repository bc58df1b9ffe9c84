"""normalize's handler: ha.events.valid -> ha.events.normalized, one record per event (per entity of a service call
on several), placed from the metadata DB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingestor import metadata, record, subjects
from tests.functions.pipeline import batch, published
from tests.metadata.test_metadata import snapshot
from tests.support.function import invoke, load_handler
from tests.support.ha_events import state_changed
from tests.support.jetstream import JetStreamClient


def test_each_event_becomes_a_record_placed_where_its_entity_lives(process: Path, stream: JetStreamClient) -> None:
    handler = load_handler("normalize")
    metadata.shared().apply(snapshot("s1"))  # what metadata-sync keeps
    event = state_changed("input_boolean.living_room_light", "off", "on", dt.datetime.now(dt.UTC), unit=None)
    batch_id, body = batch([event], prefix="valid")
    assert invoke(handler, body=body)[0] == 200
    (made,) = published(stream, subjects.NORMALIZED, f"{batch_id}:normalize")
    assert list(made) == list(record.FIELDS) and record.problem(made) is None
    assert (made["entity_id"], made["state"], made["old_state"], made["area_id"]) == (
        "input_boolean.living_room_light", "on", "off", "living_room")


def test_an_event_no_record_can_be_made_of_is_refused(process: Path) -> None:
    _, body = batch([{"event_type": "state_changed", "data": {}, "time_fired": "2026-11-22T11:27:31Z"}])
    status, answer = invoke(load_handler("normalize"), body=body)
    assert status == 422 and answer["error"]["details"][0]["reason"] == "data.entity_id: expected an entity id"


def test_a_call_on_several_entities_is_published_as_a_record_per_entity_each_placed(
        process: Path, stream: JetStreamClient) -> None:
    handler = load_handler("normalize")
    metadata.shared().apply(snapshot("s1"))
    lights = ["input_boolean.living_room_light", "light.nowhere"]
    call = {"event_type": "call_service", "origin": "LOCAL", "time_fired": "2026-11-22T11:27:31.000000+00:00",
            "context": {"id": "01JDCALL0000000000000000AA", "parent_id": None, "user_id": None},
            "data": {"domain": "homeassistant", "service": "turn_on", "service_data": {"entity_id": lights}}}
    batch_id, body = batch([call], prefix="valid")
    assert invoke(handler, body=body)[0] == 200
    made = published(stream, subjects.NORMALIZED, f"{batch_id}:normalize")
    assert [(r["entity_id"], r["domain"], r["area_id"]) for r in made] == [
        ("input_boolean.living_room_light", "input_boolean", "living_room"), ("light.nowhere", "light", None)]
    assert all(record.problem(r) is None for r in made) and len({r["event_id"] for r in made}) == 2
