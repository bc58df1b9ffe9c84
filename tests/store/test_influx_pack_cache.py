"""InfluxDB's decoded packs kept across requests (store/influxpackcache.py): an answer after a bucket changed (a
late event, a delete) is the events' own, an unchanged bucket's text is not read again and its decoded value is
reused and left as it was, and the cache holds no more than its cap."""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import influxpackcache as packcache
from ingestor.store import influxstays as packs
from ingestor.store.influx import InfluxEventStore
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from ingestor.timeutil import format_timestamp
from tests.store import rollup_model as model
from tests.store.stays import assert_durations_agree, newest_first, random_filter, written
from tests.support.servers import store_url

START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
HOURS = 96
DAY_US = 86_400_000_000
WHOLE = EventFilter(start=START, end=START + dt.timedelta(hours=HOURS))
# Ends within hours: the items read the ends' hour packs, the sample hour packs and day packs.
CUT = EventFilter(start=START + dt.timedelta(hours=5, minutes=13), end=START + dt.timedelta(hours=90, minutes=41))


@pytest.fixture
def url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return store_url("influxdb1", tmp_path, request)


@pytest.fixture(scope="module")
def history() -> model.History:
    return model.home(seed=47, start=START, hours=HOURS, events=2500)


def sample(store: Any, f: EventFilter, limit: int = 100_000) -> list[tuple[str, str, int, float, str]]:
    return [(s.entity_id, s.state, to_micros(s.time), s.duration, s.event_id)
            for s in newest_first(store.stay_groups(f, limit))]


def answered(store: Any, records: list[dict[str, Any]], f: EventFilter) -> None:
    """The sample and the items of `f` are those of `records`."""
    assert sample(store, f) == model.stays(records, f)
    assert_durations_agree(store, records, f, 0)


def statements(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the store sends from now on."""
    sent: list[str] = []
    query = store.transport.query
    monkeypatch.setattr(store.transport, "query", lambda q: sent.append(q) or query(q))
    return sent


def held(store: InfluxEventStore) -> dict[tuple[str, int], tuple[int, Any, int]]:
    return dict(store._decoded._values)


def test_a_late_event_of_a_past_day_shows_in_the_next_answer(url: str, history: model.History) -> None:
    store = written(url, history)
    for f in (WHOLE, CUT):
        answered(store, history.records, f)
    day = to_micros(START) // DAY_US * DAY_US + DAY_US  # over and packed, its pack held
    assert (packs.DAY, day) in held(store)
    fired = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=day + 3_600_000_123)
    late = dict(next(r for r in history.records if r["entity_id"] == "light.kitchen" and r["old_state"] == "on"),
                event_id="f" * 32, time_fired=format_timestamp(fired), duration_in_state=12.5)
    store.write([late])  # the day packed again: another `at`
    for f in (WHOLE, CUT):
        answered(store, [*history.records, late], f)


def test_a_deleted_day_shows_in_the_next_answer(url: str, history: model.History) -> None:
    store = written(url, history)
    for f in (WHOLE, CUT):
        answered(store, history.records, f)
    day = to_micros(START) // DAY_US * DAY_US + DAY_US
    gone = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=day)
    store.delete(gone, gone + dt.timedelta(days=1))
    left = [r for r in history.records if not day <= model.micros(r) < day + DAY_US]
    for f in (WHOLE, CUT):
        answered(store, left, f)


def test_an_unchanged_buckets_text_is_not_read_again_and_its_value_is_reused(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    first = [(sample(store, f), store.durations(f, limit=1000)) for f in (WHOLE, CUT)]
    before = held(store)
    assert {m for m, _ in before} == {*packs.PACKED.values(), *packcache.SUMS.values()}
    sent = statements(store, monkeypatch)
    assert [(sample(store, f), store.durations(f, limit=1000)) for f in (WHOLE, CUT)] == first
    texts = [q for q in sent if '"stays" FROM' in q or '"sums" FROM' in q]
    assert sent and not texts  # the ranges end before the current hour: every bucket held
    assert all(held(store)[key][1] is value for key, (_, value, _) in before.items())


def test_held_values_are_left_as_they_were_read(url: str, history: model.History) -> None:
    """Answers cut the held groups (a range's ends, the sample's limit) and sum the held entries: they change
    none of them."""
    store = written(url, history)
    rng = random.Random(4701)
    queries = [random_filter(rng, START, HOURS) for _ in range(20)]
    for f in queries:
        store.stay_groups(f, rng.choice([1, 50, 100_000]))
        store.durations(f, limit=1000)
    kept = copy.deepcopy(held(store))
    for f in queries:
        store.stay_groups(f, rng.choice([1, 50, 100_000]))
        store.durations(f, limit=1000)
    now = held(store)
    assert kept and all(now[key] == value for key, value in kept.items() if key in now)


def test_the_cache_holds_no_more_than_its_cap(url: str, history: model.History) -> None:
    store = written(url, history)
    store._decoded = packcache.PackCache(cap=40_000)  # a few packs
    rng = random.Random(4702)
    for _ in range(10):
        f = random_filter(rng, START, HOURS)
        answered(store, history.records, f)
        assert 0 < store._decoded.held <= 40_000
    answered(store, history.records, WHOLE)


def test_concurrent_answers_are_the_events_own(url: str, history: model.History) -> None:
    store = written(url, history)
    rng = random.Random(4703)
    queries = [random_filter(rng, START, HOURS) for _ in range(8)]
    failures: list[BaseException] = []

    def answer(f: EventFilter) -> None:
        try:
            answered(store, history.records, f)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=answer, args=(f,)) for f in queries * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]


def test_least_recently_used_values_go_first_and_a_bucket_packed_again_replaces_its_value() -> None:
    cache = packcache.PackCache(cap=300)
    for bucket in range(3):
        cache.put("m", bucket, 1, [bucket], 100)
    assert cache.get("m", 0, 1) == [0]  # now the most recently used
    cache.put("m", 3, 1, [3], 100)
    assert cache.get("m", 1, 1) is None and cache.get("m", 0, 1) == [0] and cache.held == 300
    cache.put("m", 0, 2, ["again"], 50)
    assert cache.get("m", 0, 1) is None and cache.get("m", 0, 2) == ["again"] and cache.held == 250
    cache.put("m", 9, 1, ["too big"], 301)
    assert cache.get("m", 9, 1) is None and len(cache) == 3
