"""The batch envelope: what every subject carries, and how malformed input is refused."""

from __future__ import annotations

import pytest

from ingestor import envelope, jsoncodec
from ingestor.errors import Invalid, TooLarge
from ingestor.responses import status_of


def test_a_well_formed_envelope_parses() -> None:
    batch = envelope.parse(b'{"v": 1, "batch_id": "b-1", "events": [{"a": 1}]}')
    assert batch == envelope.Batch("b-1", [{"a": 1}])


@pytest.mark.parametrize(("body", "code"), [
    (b"", "empty_body"),
    (b"{", "malformed_json"),
    (b"\xff\xfe", "malformed_json"),
    (b"[]", "bad_envelope"),
    (b'{"v": 1, "batch_id": "b", "events": []}', "bad_envelope"),
    (b'{"v": 1, "batch_id": "has space", "events": [1]}', "bad_envelope"),
    (b'{"v": 1, "batch_id": "' + b"x" * 201 + b'", "events": [1]}', "bad_envelope"),
    (b'{"batch_id": "b", "events": [1]}', "bad_envelope"),
])
def test_malformed_envelopes_are_400_with_a_code(body: bytes, code: str) -> None:
    with pytest.raises(Invalid) as caught:
        envelope.parse(body)
    assert (status_of(caught.value), caught.value.code) == (400, code)


def test_too_many_events_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVELOPE_MAX_EVENTS", "3")
    envelope.max_events.cache_clear()  # read once per process: this test is a process with the limit at 3
    try:
        with pytest.raises(TooLarge) as caught:
            envelope.parse(envelope.encode("b", [1, 2, 3, 4]))
    finally:
        envelope.max_events.cache_clear()
    assert (status_of(caught.value), caught.value.code) == (413, "batch_too_large")


def test_derived_ids_are_stable_per_stage_and_keep_the_root() -> None:
    assert envelope.derive_id("abc", "validate") == "abc:validate"
    assert envelope.derive_id("abc:validate", "normalize") == "abc:normalize"
    assert envelope.derive_id("abc:validate", "normalize") == envelope.derive_id("abc:validate", "normalize")


def test_encode_round_trips() -> None:
    assert jsoncodec.loads(envelope.encode("b", [{"x": "é"}])) == {"v": 1, "batch_id": "b", "events": [{"x": "é"}]}


def coalesced(*bodies: bytes) -> bytes:
    return envelope.coalesce(list(bodies))


def test_a_coalesced_body_holds_the_envelopes_bytes_unchanged() -> None:
    one, two = envelope.encode("a", [1]), b'{"v": 1,  "batch_id": "b", "events": [2]}'
    body = coalesced(one, two)
    assert one in body and two in body
    assert len(body) == envelope.coalesced_size(len(one) + len(two), 2)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_a_coalesced_body_is_its_envelopes_between_commas_in_one_document(count: int) -> None:
    bodies = [envelope.encode(f"b{i}", [i]) for i in range(count)]
    assert envelope.coalesce(bodies) == b'{"v":1,"batches":[' + b",".join(bodies) + b"]}"


def test_a_coalesced_body_parses_into_its_batches_in_order() -> None:
    body = coalesced(envelope.encode("a", [1]), envelope.encode("b", [2, 3]))
    assert envelope.parse_coalesced(body) == [envelope.Batch("a", [1]), envelope.Batch("b", [2, 3])]


@pytest.mark.parametrize(("body", "code"), [
    (b"", "empty_body"),
    (b"{", "malformed_json"),
    (b'{"v": 1, "batches": []}', "bad_envelope"),
    (b'{"v": 1, "batches": {}}', "bad_envelope"),
    (b'{"v": 2, "batches": [{"v": 1, "batch_id": "a", "events": [1]}]}', "bad_envelope"),
    (b'[{"v": 1, "batch_id": "a", "events": [1]}]', "bad_envelope"),
])
def test_malformed_coalesced_bodies_are_400_with_a_code(body: bytes, code: str) -> None:
    with pytest.raises(Invalid) as caught:
        envelope.parse_coalesced(body)
    assert (status_of(caught.value), caught.value.code) == (400, code)


def test_a_bad_inner_batch_is_400_naming_which_batch() -> None:
    body = coalesced(envelope.encode("a", [1]), b'{"v": 1, "batch_id": "has space", "events": [1]}')
    with pytest.raises(Invalid) as caught:
        envelope.parse_coalesced(body)
    assert caught.value.code == "bad_envelope" and str(caught.value).startswith("batch 1: batch_id must match")


def test_the_event_limit_holds_per_batch_of_a_coalesced_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVELOPE_MAX_EVENTS", "3")
    envelope.max_events.cache_clear()
    try:
        assert len(envelope.parse_coalesced(coalesced(*(envelope.encode(f"b{i}", [1, 2, 3]) for i in range(3))))) == 3
        with pytest.raises(TooLarge) as caught:
            envelope.parse_coalesced(coalesced(envelope.encode("a", [1]), envelope.encode("b", [1, 2, 3, 4])))
    finally:
        envelope.max_events.cache_clear()
    assert (status_of(caught.value), caught.value.code) == (413, "batch_too_large")


def test_too_many_batches_in_one_call_is_413() -> None:
    body = coalesced(*[envelope.encode(f"b{i}", [1]) for i in range(envelope.MAX_COALESCED_BATCHES + 1)])
    with pytest.raises(TooLarge) as caught:
        envelope.parse_coalesced(body)
    assert (status_of(caught.value), caught.value.code) == (413, "coalesced_too_large")


def test_too_many_bytes_in_one_call_is_413() -> None:
    half = envelope.encode("a", ["x" * (envelope.MAX_COALESCED_BYTES // 2)])
    with pytest.raises(TooLarge) as caught:
        envelope.parse_coalesced(coalesced(half, half))
    assert (status_of(caught.value), caught.value.code) == (413, "coalesced_too_large")


def test_each_handles_a_plain_call_as_its_one_batch() -> None:
    assert envelope.each(envelope.encode("a", [1]), {}, lambda b: {"id": b.batch_id}) == {"id": "a"}


def test_each_handles_every_batch_of_a_coalesced_call() -> None:
    body = coalesced(envelope.encode("a", [1]), envelope.encode("b", [2]))
    answer = envelope.each(body, {envelope.COALESCED_HEADER: "2"}, lambda b: {"id": b.batch_id})
    assert answer == {"batches": [{"id": "a"}, {"id": "b"}]}


def test_a_coalesced_body_without_its_header_is_refused_as_one_envelope() -> None:
    with pytest.raises(Invalid):
        envelope.each(coalesced(envelope.encode("a", [1])), {}, lambda b: {})
