"""dlq.record: a dead letter is always written, whatever it carries, and always fits its room."""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest

from ingestor import dlq, jsoncodec, subjects

ROOM = 64 * 1024


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"a": value}
    return value


def written(entries: list[Any], max_bytes: int = ROOM, **extra: Any) -> dict[str, Any]:
    encoded = dlq.record("b1:validate:dlq", "validate", subjects.RAW, entries, max_bytes=max_bytes, **extra)
    assert len(encoded) <= max_bytes
    return jsoncodec.loads(encoded)


def test_a_record_that_fits_keeps_every_payload_whole() -> None:
    doc = written([{"index": 0, "reason": "event_type: missing", "payload": {"a": [1, None]}}], status=422)
    assert doc["entries"] == [{"index": 0, "reason": "event_type: missing", "payload": {"a": [1, None]}}]
    assert (doc["v"], doc["stage"], doc["subject"], doc["status"]) == (1, "validate", subjects.RAW, 422)


@pytest.mark.parametrize(("payload", "problem"), [
    (nested(300), "nested deeper than 128 levels"),
    (nested(252), "nested deeper than 128 levels"),  # encodable alone, not inside the record
    ({(1, 2): "tuple key"}, "Dict key must"),
    ({"big": 2**70}, "Integer exceeds 64-bit range"),
    ("lone surrogate \ud800", "surrogates not allowed"),
    (object(), "Type is not JSON serializable"),
])
def test_a_payload_json_cannot_carry_is_kept_as_a_preview_with_the_reason(payload: Any, problem: str) -> None:
    (entry,) = written([{"index": 3, "reason": "event: nested deeper than 64 levels", "payload": payload}])["entries"]
    assert entry["reason"] == "event: nested deeper than 64 levels"
    assert entry["index"] == 3
    assert entry["payload_encoding"] == "truncated-json"
    assert entry["truncated"].startswith("payload cannot be encoded as JSON") and problem in entry["truncated"]
    assert isinstance(entry["payload"], str) and entry["payload"]


def test_a_deep_payload_preview_shows_its_start() -> None:
    (entry,) = written([{"reason": "r", "payload": nested(1000)}])["entries"]
    assert entry["payload"].startswith('{"a":{"a":{"a":')


def test_a_payload_beyond_the_room_is_cut_and_keeps_its_original_size() -> None:
    body = jsoncodec.dumps({"v": 1, "batch_id": "b1", "events": ["x" * (7 * 1024 * 1024)]})
    (entry,) = written([{"reason": "HTTP 413: too large", **dlq.payload_of(body)}])["entries"]
    assert entry["payload_bytes"] == len(body)
    assert entry["payload_encoding"] == "truncated-json"
    assert entry["payload"].startswith('{"v":1,"batch_id":"b1","events":["xxx')
    assert entry["truncated"] == f"payload of {len(body)} bytes cut to fit the dead letter"


def test_an_invalid_utf8_body_is_base64_and_is_cut_as_base64_when_too_large() -> None:
    body = b"\xff\xfe" * (100 * 1024)
    (entry,) = written([{"reason": "HTTP 400: malformed JSON", **dlq.payload_of(body)}])["entries"]
    assert entry["payload_encoding"] == "truncated-base64"
    assert entry["payload_bytes"] == len(body)
    assert base64.b64decode(entry["payload"][:4000]) == body[:3000]


def test_a_small_invalid_utf8_body_is_kept_whole_as_base64() -> None:
    (entry,) = written([{"reason": "r", **dlq.payload_of(b"\xff{")}])["entries"]
    assert (entry["payload"], entry["payload_encoding"], entry["payload_bytes"]) == ("/3s=", "base64", 2)


def test_many_entries_share_the_room_and_the_rest_are_counted() -> None:
    entries = [{"index": i, "reason": "r" * 5000, "payload": {"s": "y" * 2000}} for i in range(5000)]
    doc = written(entries)
    assert 0 < len(doc["entries"]) < 5000
    assert doc["entries_omitted"] == 5000 - len(doc["entries"])
    assert all(len(e["reason"]) == dlq.REASON_CHARS for e in doc["entries"])


def test_nan_and_infinity_are_written_as_null() -> None:
    (entry,) = written([{"reason": "r", "payload": [math.nan, math.inf]}])["entries"]
    assert entry["payload"] == [None, None]


def test_odd_extra_fields_and_reasons_become_text() -> None:
    doc = written([{"reason": {"not": "text"}, "payload": {(1,): 1}}], deliveries=2**80, kind=("a",))
    assert doc["deliveries"] == str(2**80) and doc["kind"] == "('a',)"
    assert doc["entries"][0]["reason"] == "{'not': 'text'}"
