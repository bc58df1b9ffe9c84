"""InfluxDB's decoded packs kept across requests (store/influxpackcache.py): an answer after a bucket changed (a
late event, a delete) is the events' own, an unchanged bucket's text is not read again and its decoded value is
reused and left as it was, and the cache holds no more than its cap."""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from typing import Any

import pytest

from ingestor.store import influxpackcache as packcache
from ingestor.store import influxstays as packs
from ingestor.store.influx import InfluxEventStore
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from ingestor.timeutil import format_timestamp
from tests.store import rollup_model as model
from tests.store.conftest import HOURS, START
from tests.store.stays import assert_durations_agree, newest_first, random_filter, written

DAY_US = 86_400_000_000
WHOLE = EventFilter(start=START, end=START + dt.timedelta(hours=HOURS))
# Ends within hours: the items read the ends' hour packs, the sample hour packs and day packs.
CUT = EventFilter(start=START + dt.timedelta(hours=5, minutes=13), end=START + dt.timedelta(hours=90, minutes=41))


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


def given(store: InfluxEventStore, monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, int], tuple[int, Any]]:
    """What the store's pack cache is given from now on: the last `at` and value of each key."""
    values: dict[tuple[str, int], tuple[int, Any]] = {}
    put = store._decoded.put

    def recorded(key: tuple[str, int], at: int, value: Any, size: int) -> None:
        values[key] = (at, value)
        put(key, at, value, size)

    monkeypatch.setattr(store._decoded, "put", recorded)
    return values


def test_a_late_event_of_a_past_day_shows_in_the_next_answer(url: str, history: model.History) -> None:
    store = written(url, history)
    for f in (WHOLE, CUT):
        answered(store, history.records, f)
    day = to_micros(START) // DAY_US * DAY_US + DAY_US  # over and packed, its pack held
    assert (packs.DAY, day) in store._decoded.kept()
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
    before = given(store, monkeypatch)
    first = [(sample(store, f), store.durations(f, limit=1000)) for f in (WHOLE, CUT)]
    assert set(store._decoded.kept()) == set(before)
    assert {m for m, _ in before} == {*packs.PACKED.values(), *packcache.SUMS.values()}
    sent = statements(store, monkeypatch)
    assert [(sample(store, f), store.durations(f, limit=1000)) for f in (WHOLE, CUT)] == first
    texts = [q for q in sent if '"stays" FROM' in q or '"sums" FROM' in q]
    assert sent and not texts  # the ranges end before the current hour: every bucket held
    assert all(store._decoded.get(key, at) is value for key, (at, value) in before.items())


def test_held_values_are_left_as_they_were_read(url: str, history: model.History,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers cut the held groups (a range's ends, the sample's limit) and sum the held entries: they change
    none of them."""
    store = written(url, history)
    values = given(store, monkeypatch)
    rng = random.Random(4701)
    queries = [random_filter(rng, START, HOURS) for _ in range(20)]
    for f in queries:
        store.stay_groups(f, rng.choice([1, 50, 100_000]))
        store.durations(f, limit=1000)
    held = dict(values)
    kept = copy.deepcopy(held)
    for f in queries:
        store.stay_groups(f, rng.choice([1, 50, 100_000]))
        store.durations(f, limit=1000)
    assert held and all(value == kept[key] for key, value in held.items())


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


@pytest.mark.parametrize("others", [0, 50], ids=["keys-looked-at", "buckets-looked-up"])
def test_a_range_holds_a_bucket_of_its_measurement_starting_within_it_at_any_at(others: int) -> None:
    """Both ways holds_any looks: fewer values held than a range has buckets (each key looked at), and more (each
    bucket of the range looked up)."""
    hour = packs.HOUR_US
    cache = packcache.PackCache()
    for k in range(others):
        cache.put((packs.DAY, k * DAY_US), 1, [k], 1)
    cache.put((packs.HOUR, 5 * hour), 7, ["held"], 1)
    assert cache.holds_any(packs.HOUR, 5 * hour, 40 * hour, hour)
    assert not cache.holds_any(packs.HOUR, 5 * hour + 1, 40 * hour, hour)  # it starts before
    assert not cache.holds_any(packs.HOUR, 0, 5 * hour, hour)  # after
    assert not cache.holds_any(packcache.SUMS["1h"], 0, 40 * hour, hour)  # another measurement's
