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
