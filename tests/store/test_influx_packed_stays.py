"""InfluxDB's packed stays (store/influxstays.py): the duration anomalies' sample read from an hour's or a past
day's point says what the raw points say, however the events arrived (out of order, late, twice), after a
delete, with a pack cut into parts or missing one, and on a database written before packs until they are
filled."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest

from ingestor import jsoncodec
from ingestor.store import influxreads, open_event_store
from ingestor.store import influxrollups as ir
from ingestor.store import influxstays as packs
from ingestor.store.influx import InfluxEventStore
from ingestor.store.lineprotocol import _string
from ingestor.store.model import EventFilter, StoreUnavailable, prefetch_ids
from ingestor.store.timerange import to_micros
from ingestor.timeutil import format_timestamp
from tests.store import rollup_model as model
from tests.store.conftest import HOURS, START
from tests.store.stays import newest_first, random_filter, written

DAY_US = 86_400_000_000


def sample(store: Any, f: EventFilter, limit: int) -> list[tuple[str, str, int, float, str]]:
    return [(s.entity_id, s.state, to_micros(s.time), s.duration, s.event_id)
            for s in newest_first(store.stay_groups(f, limit))]


def random_query(rng: random.Random) -> EventFilter:
    return random_filter(rng, START, HOURS)


def agrees(store: Any, records: list[dict[str, Any]], seed: int, trials: int = 25) -> None:
    rng = random.Random(seed)
    for trial in range(trials):
        f = random_query(rng)
        want = model.stays(records, f)
        limit = rng.choice([1, max(1, len(want) // 3), max(1, len(want) - 1), len(want) + 5])
        assert sample(store, f, limit) == want[:limit], f"trial {trial}: {f}, limit {limit}"


@pytest.fixture(scope="module")
def history() -> model.History:
    return model.home(seed=41, start=START, hours=HOURS, events=2500)


def day_points(store: Any) -> set[int]:
    """The days (µs) holding a day's point."""
    return {row[0] for s in store.transport.query(f'SELECT "n" FROM "{packs.DAY}" WHERE "part" = 0')
            for row in s["values"]}


def raw_reads_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: Any) -> None:
        raise AssertionError("read from raw points")

    monkeypatch.setattr(InfluxEventStore, "_raw_stay_groups", refused)


def test_stays_read_from_the_packs_are_the_events_own_however_they_arrived(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)  # out of order, late, some twice: every batch packs its hours and past days
    today = int(dt.datetime.now(dt.UTC).timestamp()) // 86_400 * DAY_US
    assert day_points(store) == {model.micros(r) // DAY_US * DAY_US for r in history.records} - {today}
    raw_reads_refused(monkeypatch)
    agrees(store, history.records, seed=4101)


def test_a_late_event_of_a_packed_day_is_in_its_pack(url: str, history: model.History,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    day = to_micros(START) // DAY_US * DAY_US + DAY_US  # over and packed
    fired = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=day + 3_600_000_123)
    late = dict(next(r for r in history.records if r["entity_id"] == "light.kitchen" and r["old_state"] == "on"),
                event_id="f" * 32, time_fired=format_timestamp(fired), duration_in_state=12.5)
    assert day in day_points(store)
    store.write([late])
    raw_reads_refused(monkeypatch)
    whole = EventFilter(start=START, end=START + dt.timedelta(hours=HOURS))
    assert sample(store, whole, 100_000) == model.stays([*history.records, late], whole)


def test_a_delete_leaves_the_packs_of_what_is_left(url: str, history: model.History,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    cut_from, cut_to = START + dt.timedelta(hours=20, minutes=17), START + dt.timedelta(hours=53, minutes=41)
    store.delete(cut_from, cut_to)
    left = [r for r in history.records if not to_micros(cut_from) <= model.micros(r) < to_micros(cut_to)]
    raw_reads_refused(monkeypatch)
    agrees(store, left, seed=4102, trials=15)


def test_a_pack_cut_into_parts_or_missing_one_reads_as_a_whole_one(url: str, history: model.History,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packs, "PART_CHARS", 500)  # a day's stays in dozens of parts
    store = written(url, history)
    parts = store.transport.query(f'SELECT "part" FROM "{packs.DAY}" WHERE "part" > 0')[0]["values"]
    assert len(parts) > 10
    agrees(store, history.records, seed=4103, trials=10)
    store.transport.query(f'DELETE FROM "{packs.DAY}" WHERE time = {parts[0][0] * 1000}')  # a write cut short
    agrees(store, history.records, seed=4104, trials=10)


def test_a_database_written_before_packs_reads_raw_points_until_they_are_filled(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    for name in (*ir.PACKED.values(), ir.PACKED_READY):
        store.transport.query(f'DROP MEASUREMENT "{name}"')
    before = open_event_store(url)
    agrees(before, history.records, seed=4105, trials=10)

    filled = list(before.fill_stays())

    stays = model.stays(history.records, EventFilter())
    assert {day * DAY_US for _, day, _ in filled} == {s[2] // DAY_US * DAY_US for s in stays}
    fresh = open_event_store(url)  # another process: it finds the packs whole
    raw_reads_refused(monkeypatch)
    agrees(fresh, history.records, seed=4106, trials=10)


def test_a_filter_the_packs_do_not_answer_reads_raw_points(url: str, history: model.History) -> None:
    store = written(url, history)
    for f in (EventFilter(old_state="on"), EventFilter(state="off"), EventFilter(text="kitchen")):
        f = dataclasses.replace(f, start=START, end=START + dt.timedelta(hours=HOURS))
        assert sample(store, f, 1000) == model.stays(history.records, f)[:1000]


def test_durations_over_a_ranges_ends_under_an_hour_are_those_of_the_raw_points_to_the_last_bit(
        url: str, history: model.History, monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    rng = random.Random(4107)
    queries = [random_query(rng) for _ in range(25)]
    from_packs = [store.durations(f, limit=1000) for f in queries]
    monkeypatch.setattr(store, "_has_marker", lambda marker: marker != ir.PACKED_READY)  # as before packs
    assert from_packs == [store.durations(f, limit=1000) for f in queries]
    assert any(from_packs)


def test_the_same_stays_packed_again_give_the_same_points(url: str, history: model.History) -> None:
    """A redelivered batch packs its hours and past days again: the same points, field for field (a pack's `at` is
    a digest of it, not the time it was made), so a restored or replayed day leaves the store as it was."""
    store = written(url, history)

    def points() -> list[Any]:
        return [(s["name"], v) for name in (packs.HOUR, packs.DAY)
                for s in store.transport.query(f'SELECT * FROM "{name}"') for v in s.get("values", [])]

    before = points()
    for batch in history.batches[-3:]:
        store.write(batch)
    assert points() == before and before


def repacked(store: Any, lines: Callable[[str, int, list[Any]], list[str]]) -> None:
    """Every pack of the store written again as `lines(measurement, bucket µs, groups)` gives: as a version before
    wrote it."""
    for name, width in ((packs.HOUR, packs.HOUR_US), (packs.DAY, DAY_US)):
        rows = [dict(zip(s["columns"], v, strict=True)) for s in store.transport.query(
            f'SELECT {packs.FIELDS} FROM "{name}"') for v in s.get("values", [])]
        store.transport.query(f'DROP MEASUREMENT "{name}"')
        store.transport.write("\n".join(line for bucket, groups in packs.decoded(rows, width).items()
                                        for line in lines(name, bucket, groups)))


def plain_lines(name: str, bucket: int, groups: list[Any]) -> list[str]:
    """A pack as the version before compression wrote it: plain JSON, each part whole (three groups a part)."""
    texts = [jsoncodec.dumps(g).decode() for g in groups]
    cut = [texts[i:i + 3] for i in range(0, len(texts), 3)] or [[]]
    return [f"{name} part={i}i,parts={len(cut)}i,at=7i,n={sum(len(g[2]) for g in groups[3 * i:3 * i + 3])}i,"
            f"stays={_string('[' + ','.join(part) + ']')} {bucket + i}" for i, part in enumerate(cut)]


def test_packs_written_before_compression_read_as_they_are(url: str, history: model.History,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A store packed by the version before (plain JSON, each part whole) keeps answering from its packs: every
    pack rewritten so, cut into parts as that version cut them."""
    store = written(url, history)
    repacked(store, plain_lines)
    assert store.transport.query(f'SELECT "stays" FROM "{packs.DAY}" LIMIT 1')[0]["values"][0][1].startswith("[")
    raw_reads_refused(monkeypatch)
    agrees(store, history.records, seed=4108, trials=15)


def test_packs_written_with_event_ids_read_as_they_are(url: str, history: model.History,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A store packed by the version before (compressed, each group's event ids a fifth list) keeps answering from
    its packs, the ids those of the raw points (here the packs' own are made wrong: they are not read)."""
    store = written(url, history)

    def with_ids(name: str, bucket: int, groups: list[Any]) -> list[str]:
        text = packs.compressed([[tags, left, [t - p for t, p in zip(times, [0, *times], strict=False)], durations,
                                  ["0" * 32] * len(times)] for tags, left, times, durations in groups], 1)
        return packs.pack_lines(name, bucket, text, packs.count(groups), "stays")

    repacked(store, with_ids)
    raw_reads_refused(monkeypatch)
    agrees(store, history.records, seed=4110, trials=15)


def test_a_pack_holds_no_event_ids(url: str, history: model.History) -> None:
    """The ids are most of a pack's text and do not compress, while an answer names at most 100 of the 50,000
    stays: they are read from the raw points of those asked for."""
    store = written(url, history)
    texts = packs.whole([dict(zip(s["columns"], v, strict=True)) for s in store.transport.query(
        f'SELECT {packs.FIELDS} FROM "{packs.DAY}"') for v in s.get("values", [])], DAY_US, "stays").values()
    groups = [g for parts in texts for g in packs.uncompressed("".join(parts))]
    assert groups and all(len(g) == 4 for g in groups)
    assert not {r["event_id"] for r in history.records} & {v for g in groups for v in g[3]}


def test_the_ids_an_answer_names_are_read_in_a_few_requests_sent_at_once(url: str, history: model.History,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    groups = store.stay_groups(EventFilter(), 100_000)
    asked = [(g, k) for g in groups for k in range(0, len(g.durations), 7)][:100]
    requests: list[str] = []
    query = store.transport.query
    monkeypatch.setattr(store.transport, "query", lambda q: requests.append(q) or query(q))

    prefetch_ids(asked)
    ids = [g.event_id(k) for g, k in asked]

    assert len(requests) == influxreads.READERS and len(asked) == 100  # not a request per id
    by_stay = {(r["entity_id"], model.micros(r)): r["event_id"] for r in history.records}
    assert ids == [by_stay[(g.entity_id, g.times[k])] for g, k in asked]


def test_a_stays_event_deleted_after_the_sample_was_read_fails_its_id_rather_than_guess_it(
        url: str, history: model.History) -> None:
    """A delete drops the packs it touches with the points; a sample read before it names a stay whose raw point is
    gone: asking its id fails as unavailable (asked again, the answer reads the packs as they are now)."""
    store = written(url, history)
    whole = EventFilter(start=START, end=START + dt.timedelta(hours=HOURS))
    group = max(store.stay_groups(whole, 100_000), key=lambda g: len(g.durations))
    fired = group.time(0)
    store.delete(fired, fired + dt.timedelta(microseconds=1))
    with pytest.raises(StoreUnavailable, match="deleted while they were read"):
        group.event_id(0)


def test_stays_at_the_cuts_instant_are_taken_by_their_event_ids(url: str, history: model.History,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Stays of several series at one instant, the sample's limit among them: those with the greatest ids, as a
    read of raw points takes them (their ids looked up, the packs hold none)."""
    store = written(url, history)
    at = START + dt.timedelta(hours=30, microseconds=7)  # a past day's: packed again by this write
    stays = {s[4] for s in model.stays(history.records, EventFilter())}
    firsts = {r["entity_id"]: r for r in history.records if r["event_id"] in stays}
    tied = [dict(r, event_id=f"{9 - n:x}{n}" * 16, time_fired=format_timestamp(at), duration_in_state=float(n + 1))
            for n, r in enumerate(list(firsts.values())[:4])]
    store.write(tied)
    raw_reads_refused(monkeypatch)
    f = EventFilter(start=START, end=at + dt.timedelta(microseconds=1))
    for limit in (1, 2, 3, 6):
        assert sample(store, f, limit) == model.stays([*history.records, *tied], f)[:limit], limit


def test_a_pack_read_back_is_the_pack_written() -> None:
    groups = [[["light.a", "light", "", "", "", "state_changed"], "on", [5, 9, 9_000_000_000_000_000],
               [0.5, 1e-9, 3.0]], [["sensor.b", "sensor", "", "", "", "state_changed"], "idle", [7], [2.25]]]
    for width in (packs.HOUR_US, DAY_US):
        measurement = packs.HOUR if width == packs.HOUR_US else packs.DAY
        rows = []
        for line in packs.lines(measurement, 0, groups):
            head, text, tail = line.split('"')
            fields = dict(f.split("=", 1) for f in head.split(" ")[1].split(",") if f != "stays=")
            rows.append({"time": int(tail), "stays": text, **{k: int(v[:-1]) for k, v in fields.items()}})
        assert packs.decoded(rows, width) == {0: groups}


def test_a_day_packed_again_blanks_the_parts_its_plain_pack_had_more_of(url: str, history: model.History,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store = written(url, history)
    days = sorted(day_points(store))
    rows = [dict(zip(s["columns"], v, strict=True)) for s in store.transport.query(
        f'SELECT {packs.FIELDS} FROM "{packs.DAY}"') for v in s.get("values", [])]
    plain = [f"{packs.DAY} part={i}i,parts=40i,at=7i,n=0i,stays={_string('[]')} {day + i}"
             for day in days for i in range(40)]  # a plain pack of 40 parts: none of its groups
    store.transport.write("\n".join(plain))
    assert packs.decoded(rows, DAY_US).keys() == set(days)
    list(store.fill_stays())
    after = [dict(zip(s["columns"], v, strict=True)) for s in store.transport.query(
        f'SELECT {packs.FIELDS} FROM "{packs.DAY}"') for v in s.get("values", [])]
    def by_series(found: dict[int, list[Any]]) -> dict[int, list[Any]]:
        return {day: sorted(groups) for day, groups in found.items()}

    assert by_series(packs.decoded(after, DAY_US)) == by_series(packs.decoded(rows, DAY_US))
    assert all(not c["stays"] and c["at"] == 0 for c in after if c["part"] >= 2)  # a day's pack: 1 or 2 parts
    raw_reads_refused(monkeypatch)
    agrees(store, history.records, seed=4109, trials=10)
