"""What `write` refuses before any store sees it (dead-lettered one record at a time, the rest of the batch
stored): the same on every backend, where a database would otherwise refuse the whole batch (PostgreSQL and
a NUL) or keep what another backend cannot."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ingestor import normalization
from ingestor import record as records
from ingestor.store.model import EventFilter
from tests.support.ha_events import many

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
GOOD = normalization.normalize_event(many(1, prefix="sensor.fine", start=T0)[0])
REFUSED = [
    ({"friendly_name": "a\x00b"}, "friendly_name: contains a NUL character, which the store cannot keep"),
    ({"state": "on\x00"}, "state: contains a NUL character, which the store cannot keep"),
    ({"area_id": "\ud800"}, "area_id: not valid UTF-8 text"),
    ({"device_model": "m" * 256}, "device_model: 256 characters, at most 255 are kept (refused, not shortened)"),
    ({"context": {"id": "c" * 65, "parent_id": None, "user_id": None}},
     "context.id: 65 characters, at most 64 are kept (refused, not shortened)"),
    ({"context": {"id": "x\x00", "parent_id": None, "user_id": None}},
     "context.id: contains a NUL character, which the store cannot keep"),
]


@pytest.mark.parametrize(("change", "reason"), REFUSED)
def test_a_value_no_store_can_keep_as_it_is_is_refused_by_name(change: dict[str, Any], reason: str) -> None:
    assert records.problem({**GOOD, **change}) == reason


def test_the_longest_names_kept_and_nul_inside_json_documents_are_fine() -> None:
    assert records.problem({**GOOD, "friendly_name": "n" * 255, "state": "s" * 255}) is None
    assert records.problem({**GOOD, "attributes": {"note": "a\x00b"}}) is None  # JSON escapes it: \\u0000


def test_what_write_lets_through_every_store_keeps_exactly(store: Any) -> None:
    batch = [{**GOOD, **change, "event_id": f"{i:032x}"} for i, (change, _) in enumerate(REFUSED)]
    batch += [{**GOOD, "friendly_name": "n" * 255, "state": "s" * 255, "attributes": {"note": "a\x00b"}}]
    kept = [r for r in batch if records.problem(r) is None]
    assert len(kept) == 1
    store.write(kept)
    assert store.query(EventFilter()).items == kept
