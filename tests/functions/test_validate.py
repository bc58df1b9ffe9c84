"""validate's handler: ha.events.raw -> ha.events.valid, what fails a check dead-lettered with its reason."""

from __future__ import annotations

from pathlib import Path

from ingestor import subjects
from tests.functions.pipeline import batch, dead_letter, published
from tests.support.function import invoke, load_handler
from tests.support.ha_events import sample_events
from tests.support.jetstream import JetStreamClient


def test_recorded_ha_events_are_published_as_they_came(process: Path, stream: JetStreamClient) -> None:
    events = sample_events()
    batch_id, body = batch(events)
    status, answer = invoke(load_handler("validate"), body=body)
    assert status == 200 and answer["accepted"] == len(events) and answer["batch_id"] == f"{batch_id}:validate"
    assert published(stream, subjects.VALID, f"{batch_id}:validate") == events


def test_an_event_that_fails_a_check_is_dead_lettered_and_the_rest_pass(process: Path,
                                                                       stream: JetStreamClient) -> None:
    good = sample_events()[0]
    batch_id, body = batch([good, {**good, "event_type": "not an event type"}])
    status, answer = invoke(load_handler("validate"), body=body)
    assert status == 200 and answer["rejections"] == [
        {"index": 1, "reason": "event_type: 'not an event type' is not a valid event type (letters, digits, _ . : "
                               "-, at most 64)"}]
    letter = dead_letter(stream, subjects.stage_dlq_id(f"{batch_id}:validate"))
    assert (letter["stage"], letter["entries"][0]["payload"]["event_type"]) == ("validate", "not an event type")


def test_a_batch_of_which_nothing_passes_is_refused_with_422(process: Path) -> None:
    _, body = batch([{"event_type": "state_changed"}])
    status, answer = invoke(load_handler("validate"), body=body)
    assert status == 422 and answer["error"]["code"] == "no_valid_event"


def test_a_malformed_envelope_is_400(process: Path) -> None:
    assert invoke(load_handler("validate"), body=b"{not json")[0] == 400


def test_an_event_nested_past_validate_max_depth_is_dead_lettered_and_the_rest_pass(
        process: Path, stream: JetStreamClient) -> None:
    good = sample_events()[0]
    deep: object = "x"
    for _ in range(64):
        deep = [deep]
    batch_id, body = batch([good, {**good, "data": {**good["data"], "junk": deep}}])
    status, answer = invoke(load_handler("validate"), body=body)
    assert status == 200 and answer["rejections"] == [{"index": 1, "reason": "event: nested deeper than 64 levels"}]
    assert published(stream, subjects.VALID, f"{batch_id}:validate") == [good]
