"""Dead-letter records from both writers read back with a reason, a grouping key, a batch id and a size."""

from __future__ import annotations

import datetime as dt

from ingestor import dlq, jsoncodec, subjects
from ingestor.health import deadletters
from ingestor.health.jetstream import StoredMessage

AT = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def stored(data: bytes, seq: int = 1) -> StoredMessage:
    return StoredMessage(seq, AT, data)


def connector_record(batch_id: str, reason_detail: str) -> bytes:
    body = jsoncodec.dumps({"error": {"code": "no_valid_event", "message": f"no event of batch {batch_id} passed",
                                      "details": [{"index": 0, "reason": reason_detail}]}}).decode()
    payload = {"v": 1, "batch_id": batch_id, "events": [{"a": 1}, {"a": 2}]}
    return dlq.record(f"connector:validate:HA:{batch_id}", "validate", subjects.RAW,
                      [{"reason": f"HTTP 422: {body}", "payload": payload}], kind="bad_input", status=422,
                      deliveries=1, stream_sequence=4)


def test_a_connector_record_shows_the_functions_error_and_the_events_own_reason() -> None:
    letter = deadletters.parse(stored(connector_record("b1", "data.entity_id: 'nope' is not a valid entity id")))
    assert letter.stage == "validate" and letter.batch_id == "b1" and letter.events == 2
    assert letter.reason == "HTTP 422 no_valid_event: data.entity_id: 'nope' is not a valid entity id"
    assert letter.time == "2026-11-23T12:00:00.000000Z"


def test_reasons_differing_only_in_quoted_values_and_numbers_share_a_key() -> None:
    one = deadletters.parse(stored(connector_record("b1", "data.entity_id: 'nope' is not a valid entity id")))
    two = deadletters.parse(stored(connector_record("b2", "data.entity_id: 'other' is not a valid entity id")))
    assert one.key == two.key == "validate: data.entity_id: … is not a valid entity id"


def test_a_whole_batch_rejected_and_one_event_of_a_batch_rejected_group_together() -> None:
    whole = deadletters.parse(stored(connector_record("b1", "time_fired: missing")))
    one = deadletters.parse(stored(dlq.record("b2:validate:dlq", "validate", subjects.RAW,
                                              [{"index": 1, "reason": "time_fired: missing", "payload": {}}])))
    assert whole.key == one.key == "validate: time_fired: missing"


def test_an_error_without_event_reasons_groups_by_status_code_and_message() -> None:
    body = jsoncodec.dumps({"error": {"code": "malformed_json", "message": "malformed JSON: line 1 column 7"}})
    record = dlq.record("c:1", "normalize", subjects.VALID, [{"reason": f"HTTP 400: {body.decode()}"}],
                        kind="bad_input", status=400)
    letter = deadletters.parse(stored(record))
    assert letter.reason == "HTTP 400 malformed_json: malformed JSON: line 1 column 7"
    assert letter.key == "normalize: HTTP 400 malformed_json: malformed JSON: line N column N"


def test_a_stage_record_counts_its_rejected_events() -> None:
    record = dlq.record("root:write:dlq", "write", subjects.ENRICHED,
                        [{"index": 0, "reason": "event_id: missing", "payload": {}},
                         {"index": 3, "reason": "event_id: missing", "payload": {}}])
    letter = deadletters.parse(stored(record))
    assert (letter.stage, letter.reason, letter.events, letter.batch_id) == ("write", "event_id: missing", 2,
                                                                             "root:write")


def test_an_unreadable_record_is_still_counted() -> None:
    assert deadletters.parse(stored(b"\xff not json")).key == "unknown: unreadable record"


def test_the_summary_counts_by_reason_and_lists_the_newest_first() -> None:
    messages = [stored(connector_record(f"b{i}", f"time_fired: '{i}' bad"), i) for i in range(5)]
    summary = deadletters.summarise(messages, recent=2)
    assert summary["by_reason"] == [{"reason": "validate: time_fired: … bad", "count": 5,
                                     "events": 10}]
    assert [r["batch_id"] for r in summary["recent"]] == ["b4", "b3"]
