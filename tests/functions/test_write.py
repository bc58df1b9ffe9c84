"""write's handler: records into the event store, idempotent; a record a store cannot take is dead-lettered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingestor import envelope, store, subjects
from ingestor.normalization import normalize_event
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.functions.pipeline import batch, dead_letter
from tests.support.function import invoke, load_handler
from tests.support.ha_events import many
from tests.support.jetstream import JetStreamClient


def stored(data: Path) -> int:
    events = open_event_store(f"sqlite:///{data}/events.db")
    try:
        return events.count(EventFilter())
    finally:
        events.close()


def test_records_are_stored_once_however_often_the_batch_comes(process: Path) -> None:
    handler = load_handler("write")
    _, body = batch([normalize_event(e) for e in many(5)], prefix="enriched")
    assert invoke(handler, body=body)[0] == 200
    assert invoke(handler, body=body)[0] == 200  # redelivered
    assert stored(process) == 5
    assert handler.health()["status"] == "ok"


def test_a_record_with_a_field_the_record_does_not_have_is_dead_lettered(process: Path,
                                                                        stream: JetStreamClient) -> None:
    good, odd = [normalize_event(e) for e in many(2)]
    batch_id, body = batch([good, {**odd, "colour": "red"}], prefix="enriched")
    status, answer = invoke(load_handler("write"), body=body)
    assert status == 200 and answer["rejections"] == [{"index": 1, "reason": "'colour': not a field of the event "
                                                                             "record"}]
    assert dead_letter(stream, subjects.stage_dlq_id(f"{batch_id}:write"))["stage"] == "write"
    assert stored(process) == 1


def test_a_coalesced_calls_batches_are_stored_in_one_write_of_the_store(process: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    handler = load_handler("write")
    shared, writes = store.shared(), []
    real = shared.write

    def counted(records: list[dict[str, Any]]) -> None:
        writes.append(len(records))
        real(records)

    monkeypatch.setattr(shared, "write", counted)
    records = [normalize_event(e) for e in many(7)]
    bodies = [batch(records[:3], prefix="enriched")[1], batch(records[3:], prefix="enriched")[1]]
    status, answer = invoke(handler, body=envelope.coalesce(bodies), headers={envelope.COALESCED_HEADER: "2"})
    assert status == 200 and [b["accepted"] for b in answer["batches"]] == [3, 4]
    assert writes == [7]  # one transaction, not one per batch
    assert stored(process) == 7
