"""Webhook ids increase in creation order, within one millisecond and across processes (each store below has its
own engine and connections, as each function process has), on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert

from ingestor.webhooks.schema import webhooks
from ingestor.webhooks.store import WebhookStore
from tests.support.concurrently import concurrently

FILTERS = {"event_types": ["*"]}


@pytest.fixture
def same_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_790_000_000.123)


def create(store: WebhookStore, name: str) -> str:
    return store.create(name, "http://127.0.0.1:9/", "secret-value-000001", FILTERS, True).id


def test_stores_taking_turns_within_one_millisecond_issue_increasing_ids(db_url: str, same_millisecond: None) -> None:
    stores = [WebhookStore(db_url) for _ in range(3)]
    ids = [create(stores[n % 3], f"w{n}") for n in range(30)]
    assert ids == sorted(ids) and len(set(ids)) == 30


def test_concurrent_creations_all_succeed_with_distinct_ids_each_process_increasing(db_url: str,
                                                                                  same_millisecond: None) -> None:
    made: dict[int, list[str]] = {}

    def worker(n: int) -> None:
        store = WebhookStore(db_url)
        made[n] = [create(store, f"t{n}-{i}") for i in range(10)]

    errors = concurrently(worker, 4, timeout=60)
    assert not errors, [(e, e.__cause__) for e in errors]
    everything = [i for ids in made.values() for i in ids]
    assert len(set(everything)) == 40 and all(ids == sorted(ids) for ids in made.values())
    assert [h.id for h in WebhookStore(db_url).page(100, None)] == sorted(everything)


def test_ids_from_before_the_rule_are_continued_after(db_url: str) -> None:
    """A metadata DB whose webhooks were made by an earlier version (no record of the last id issued)."""
    store = WebhookStore(db_url)
    store.ping()  # migrated
    old = "wh_ffffffffffff000000000001"  # a clock far ahead once gave this id
    with store.engine.begin() as conn:
        conn.execute(insert(webhooks), [{"id": old, "name": "old", "url": "http://127.0.0.1:9/", "secret": "s" * 20,
                                         "filters": '{"event_types":["*"]}', "enabled": True, "paused": False,
                                         "consecutive_failures": 0, "created_at": "2025-01-01T00:00:00.000000Z",
                                         "updated_at": "2025-01-01T00:00:00.000000Z"}])
    new = create(store, "new")
    assert new > old and store.get(old) is not None
    assert [h.id for h in store.page(10, None)] == [old, new]
