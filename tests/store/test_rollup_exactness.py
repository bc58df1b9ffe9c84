"""Answers from the rollups equal the same questions answered from the events themselves, on every backend:
over random ranges (aligned or not, open or not), filters, groupings and bucket widths, for a home whose
events arrive out of order, late (after their day was compacted) and some twice. Counts are exact, sums and
means equal to float tolerance. Seeded: a failure names its seed and trial."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.event_id import state_change_id_at
from ingestor.store import sqlrise
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from ingestor.timeutil import format_timestamp, parse_timestamp
from tests.store import rollup_model as model
from tests.store.conftest import opened
from tests.store.stays import assert_durations_agree, block_days, newest_first, packed_days, unpack

START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
HOURS = 96  # the first two days compacted into blocks, the last two hot
WIDTHS = [None, 300, 900, 1800, 3600, 21_600, 86_400, 172_800]
GROUPS = [None, "entity_id", "domain", "event_type", "area_id", "device_id"]
TRIALS = 60


@pytest.fixture(scope="module")
def history() -> model.History:
    return model.home(seed=15, start=START, hours=HOURS, events=2500)


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1"])
def loaded(request: pytest.FixtureRequest, tmp_path: Path, history: model.History) -> Iterator[Any]:
    store = opened(request.param, tmp_path, request)
    for batch in history.batches:
        store.write(batch)
    yield store
    store.close()


def random_filter(rng: random.Random) -> EventFilter:
    choice = rng.choice(["none", "entity", "domain", "type", "area", "device", "state", "domain+area", "old_state",
                         "text"])
    entity, area, device, _ = rng.choice(model.ENTITIES)
    fields: dict[str, Any] = {
        "none": {}, "entity": {"entity_id": entity}, "domain": {"domain": entity.split(".")[0]},
        "type": {"event_type": rng.choice(["state_changed", "call_service"])}, "area": {"area_id": area},
        "device": {"device_id": device}, "state": {"state": rng.choice(["on", "off", "unavailable", "playing"])},
        "domain+area": {"domain": entity.split(".")[0], "area_id": area},
        "old_state": {"old_state": rng.choice(["on", "off"])}, "text": {"text": rng.choice(["KITCHEN", "on"])},
    }[choice]
    return EventFilter(**fields)


def random_range(rng: random.Random) -> tuple[dt.datetime | None, dt.datetime | None]:
    def moment() -> dt.datetime:
        at = START + dt.timedelta(microseconds=rng.randrange(HOURS * 3600 * 1_000_000))
        return rng.choice([at, at.replace(minute=0, second=0, microsecond=0),
                           at.replace(hour=0, minute=0, second=0, microsecond=0)])

    a, b = sorted([moment(), moment()])
    if a == b:
        b = a + dt.timedelta(hours=1)
    return rng.choice([a, a, a, None]), rng.choice([b, b, b, None])


def expected_stats(history: model.History, f: EventFilter, width: int) -> list[tuple]:
    found = model.values(history.records, f, width, None)
    return [(bucket, acc[0], acc[1], acc[3], acc[4], acc[2] / acc[1] if acc[1] else None)
            for (_, bucket), acc in sorted(found.items(), key=lambda kv: kv[0][1])]


def test_aggregates_from_rollups_equal_the_events_own(loaded: Any, history: model.History) -> None:
    rng = random.Random(1515)
    tiers: set[str] = set()
    for trial in range(TRIALS):
        start, end = random_range(rng)
        f = dataclasses.replace(random_filter(rng), start=start, end=end)
        width = rng.choice(WIDTHS[1:])
        group = rng.choice(GROUPS[1:])
        where = f"trial {trial}: {f}, width {width}, group {group}"
        info: dict[str, Any] = {}
        assert loaded.count(f, info=info) == sum(a[0] for a in model.values(history.records, f, None, None).values()), \
            where
        tiers.add(info.get("resolution", "?"))
        got = [(int(s.start.timestamp()) * 1_000_000, s.count, s.value_count, s.min, s.max, s.mean)
               for s in loaded.stats(f, width, info=info)]
        want = expected_stats(history, f, width)
        tiers.add(info.get("resolution", "?"))
        assert [g[:5] for g in got] == [w[:5] for w in want], where
        assert [g[5] for g in got] == pytest.approx([w[5] for w in want]), where
        counts = {key: acc[0] for (key, _), acc in model.values(history.records, f, None, group).items()}
        assert dict(loaded.counts(f, group, limit=1000)) == counts, where
        cells = {(key, bucket): acc[0] for (key, bucket), acc in model.values(history.records, f, width, group).items()}
        assert {(key, int(t.timestamp()) * 1_000_000): n for key, t, n in loaded.grid(f, group, width)} == \
            {(key or None, bucket): n for (key, bucket), n in cells.items()}, where
        newest = {key: acc[5] for (key, _), acc in model.values(history.records, f, None, group).items()}
        assert {key: int(t.timestamp() * 1_000_000) for key, t in loaded.last_seen(f, group)} == \
            {key: ts for key, ts in newest.items()}, where
    assert any("1d" in t or "1h" in t or "5m" in t for t in tiers), tiers  # the rollups were read, not only raw


def test_chart_series_from_rollups_equal_the_events_own(loaded: Any, history: model.History) -> None:
    """An entity's chart buckets (a history's series), over ranges cut anywhere and ranges of whole buckets (read
    from the coarsest tier whose rows divide the bucket, several rows summed into one where it is narrower)."""
    rng = random.Random(1516)
    for trial in range(TRIALS):
        start, end = random_range(rng)
        width = rng.choice(WIDTHS[1:])
        entity = rng.choice(model.ENTITIES)[0]
        start, end = start or START, end or START + dt.timedelta(hours=HOURS)
        if rng.random() < 0.5:  # whole buckets
            w = width * 1_000_000
            lo, hi = to_micros(start) // w * w, -(-to_micros(end) // w) * w
            start, end = START + dt.timedelta(microseconds=lo - to_micros(START)), \
                START + dt.timedelta(microseconds=hi - to_micros(START))
        where = f"trial {trial}: {entity} {start} {end}, width {width}"
        got = loaded.series_columns([entity], start, end, width)[entity]
        found = model.values(history.records, EventFilter(entity_id=entity, start=start, end=end), width, None)
        want = sorted((bucket, acc[0], acc[2] / acc[1] if acc[1] else None, acc[3], acc[4])
                      for (_, bucket), acc in found.items())
        assert list(zip(got.start, got.count, got.min, got.max, strict=True)) == \
            [(b, n, lo, hi) for b, n, _, lo, hi in want], where
        assert got.mean == pytest.approx([w[2] for w in want]), where


def test_durations_from_rollups_equal_the_events_own(loaded: Any, history: model.History) -> None:
    rng = random.Random(2015)
    for trial in range(TRIALS // 2):
        start, end = random_range(rng)
        entity, area, _, _ = rng.choice(model.ENTITIES)
        f = rng.choice([EventFilter(), EventFilter(entity_id=entity), EventFilter(domain=entity.split(".")[0]),
                        EventFilter(area_id=area)])
        assert_durations_agree(loaded, history.records, dataclasses.replace(f, start=start, end=end), trial)


def test_stay_groups_hold_the_newest_stays_of_the_events_own(loaded: Any, history: model.History) -> None:
    """The duration anomalies' sample: the newest `limit` stays by time, then event id, wherever the limit falls
    (mid-day, in a compacted day or a hot one, or past the range's stays), each (entity, state left) one group."""
    rng = random.Random(1517)
    for trial in range(TRIALS // 2):
        start, end = random_range(rng)
        f = dataclasses.replace(random_filter(rng), start=start, end=end)
        want = model.stays(history.records, f)
        limit = rng.choice([1, 2, max(1, len(want) // 3), max(1, len(want) - 1), len(want) + 5])
        groups = loaded.stay_groups(f, limit)
        assert len({(g.entity_id, g.state) for g in groups}) == len(groups), f"trial {trial}: {f}"
        got = [(s.entity_id, s.state, to_micros(s.time), s.duration, s.event_id) for s in newest_first(groups)]
        assert got == want[:limit], f"trial {trial}: {f}, limit {limit}"


def test_stay_groups_of_days_packed_or_not_hold_the_newest_stays_of_the_events_own(loaded: Any,
                                                                                   history: model.History) -> None:
    """The SQL stores' compacted days with their stays packed for some series only (the rest read from blocks, as
    a database compacted before stays were packed), then filled in: the same sample as the events give."""
    if not hasattr(loaded, "engine"):
        pytest.skip("the SQL stores' packed rows (InfluxDB's packs: test_influx_packed_stays.py)")
    series = sorted({sid for sid, _ in block_days(loaded)})
    for sid in series[::2]:
        unpack(loaded, series=sid)
    rng = random.Random(1519)
    for phase in ("half packed", "filled"):
        if phase == "filled":
            missing = block_days(loaded) - packed_days(loaded)
            assert {(sid, day) for sid, day, _ in loaded.fill_stays()} == missing != set()
        for trial in range(TRIALS // 4):
            start, end = random_range(rng)
            f = dataclasses.replace(random_filter(rng), start=start, end=end)
            want = model.stays(history.records, f)
            limit = rng.choice([1, max(1, len(want) // 3), max(1, len(want) - 1), len(want) + 5])
            got = [(s.entity_id, s.state, to_micros(s.time), s.duration, s.event_id)
                   for s in newest_first(loaded.stay_groups(f, limit))]
            assert got == want[:limit], f"{phase}, trial {trial}: {f}, limit {limit}"
    assert packed_days(loaded) == block_days(loaded)


def test_events_in_a_state_or_leaving_one_are_read_whole_from_both_tiers(loaded: Any, history: model.History) -> None:
    """The SQL store finds them through the daily state rollups: none may be missed where the rollups lead."""
    rng = random.Random(3015)
    for trial in range(TRIALS // 2):
        start, end = random_range(rng)
        name = rng.choice(["state", "old_state"])
        f = EventFilter(start=start, end=end, **{name: rng.choice(["on", "off", "unavailable", "playing", "21.5"])})
        got, cursor = [], None
        while True:
            page = loaded.query(f, limit=rng.choice([7, 100]), cursor=cursor)
            got += [r["event_id"] for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        want = [r for r in history.records if model.matches(r, f)]
        want.sort(key=lambda r: (model.micros(r), r["event_id"]), reverse=True)
        assert got == [r["event_id"] for r in want], f"trial {trial}: {f}"


def test_every_event_is_stored_once(loaded: Any, history: model.History) -> None:
    exported = [r for batch in loaded.export(START, START + dt.timedelta(hours=HOURS)) for r in batch]
    assert sorted(r["event_id"] for r in exported) == sorted(r["event_id"] for r in history.records)
    by_id = {r["event_id"]: r for r in history.records}
    assert all(r == by_id[r["event_id"]] for r in exported)


def test_a_bulk_load_of_history_stores_what_writing_it_would(tmp_path: Path, history: model.History,
                                                            request: pytest.FixtureRequest) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    written, loaded = opened("sqlite", tmp_path / "a", request), opened("sqlite", tmp_path / "b", request)
    for batch in history.batches:
        written.write(batch)
    for batch in history.batches:  # straight into blocks for past days, out of order and some twice
        loaded.load(batch)
    end = START + dt.timedelta(hours=HOURS)
    assert [r for b in loaded.export(START, end) for r in b] == [r for b in written.export(START, end) for r in b]
    for width in (300, 3600, 86_400):
        a, b = loaded.stats(EventFilter(), width), written.stats(EventFilter(), width)
        assert [(x.start, x.count, x.value_count, x.min, x.max) for x in a] == \
            [(x.start, x.count, x.value_count, x.min, x.max) for x in b]
        assert [x.mean for x in a] == pytest.approx([x.mean for x in b])
    a, b = loaded.durations(EventFilter(), limit=1000), written.durations(EventFilter(), limit=1000)
    assert [(d.entity_id, d.state, d.count, d.min, d.max) for d in a] == \
        [(d.entity_id, d.state, d.count, d.min, d.max) for d in b]
    assert [d.total for d in a] == pytest.approx([d.total for d in b])


@pytest.fixture(scope="module")
def meter_history() -> model.History:
    return model.meter(seed=21, start=START, hours=HOURS, readings=1500)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_meter_s_rise_per_hour_from_rollups_equals_its_readings_own_before_and_after_a_delete(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest, meter_history: model.History) -> None:
    store = opened(backend, tmp_path, request)
    for batch in meter_history.batches:  # out of order, late (after their day was compacted), some twice
        store.write(batch)
    end = START + dt.timedelta(hours=HOURS)
    for kept, first in ((meter_history.records, START), (None, None)):
        if kept is None:  # a delete (retention's) cuts an hour: the reading after it starts the meter again
            cut = START + dt.timedelta(hours=30, minutes=17)
            store.delete(START, cut)
            kept = [r for r in meter_history.records if model.micros(r) >= int(cut.timestamp()) * model.US]
            first = cut.replace(minute=0)
        expected = {h: v for h, v in model.rises(kept, 3600).items() if h >= int(first.timestamp()) * model.US}
        hours = store.meter_rises([model.METER], first, end)[model.METER]
        assert hours.start == sorted(expected)
        assert hours.energy == pytest.approx([expected[h] for h in hours.start], abs=1e-9)
        assert hours.read_before == [h - 3600 * model.US in expected or h - 3600 * model.US in
                                     model.rises(kept, 3600) for h in hours.start]
        totals = store.meter_totals({model.METER: 0.001}, first, end)
        assert (totals.start, totals.meters) == (sorted(expected), [1] * len(expected))
        assert totals.energy == pytest.approx([expected[h] * 0.001 for h in totals.start], abs=1e-12)
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_meter_s_rises_over_ranges_cut_anywhere_equal_its_readings_own(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest, meter_history: model.History) -> None:
    """The dashboard's ranges end now: their whole hours come from the rollups, the hour cut at either end from
    its raw readings (in blocks or hot), across the meter's dips and new cycles."""
    store = opened(backend, tmp_path, request)
    for batch in meter_history.batches:
        store.write(batch)
    rng = random.Random(21)
    t0, span = int(START.timestamp()) * model.US, HOURS * 3600 * model.US
    for trial in range(TRIALS):
        lo = t0 + rng.randrange(span)
        hi = min(t0 + span, lo + rng.choice([rng.randrange(3600 * model.US), rng.randrange(span)]) + 1)
        expected = model.hours_within(meter_history.records, lo, hi)
        start, end = (dt.datetime.fromtimestamp(t / model.US, dt.UTC) for t in (lo, hi))
        hours = store.meter_rises([model.METER], start, end)[model.METER]
        assert hours.start == sorted(expected), (trial, start, end)
        assert hours.energy == pytest.approx([expected[h][0] for h in hours.start], abs=1e-9), trial
        assert hours.read_before == [expected[h][1] for h in hours.start], trial
        totals = store.meter_totals({model.METER: 0.001}, start, end)
        assert (totals.start, totals.meters) == (sorted(expected), [1] * len(expected)), trial
        assert totals.before == [int(expected[h][1]) for h in totals.start], trial
        assert totals.energy == pytest.approx([expected[h][0] * 0.001 for h in totals.start], abs=1e-12), trial
    store.close()


def _assert_rises(store: Any, records: list[dict[str, Any]]) -> None:
    expected = model.rises(records, 3600)
    hours = store.meter_rises([model.METER], START, START + dt.timedelta(hours=HOURS))[model.METER]
    assert hours.start == sorted(expected)
    assert hours.energy == pytest.approx([expected[h] for h in hours.start], abs=1e-9)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_appending_readings_to_a_meter_takes_its_newest_reading_from_the_rollups_not_the_events(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest, meter_history: model.History,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = opened(backend, tmp_path, request)
    read: list[int] = []
    stored_readings = sqlrise.readings
    monkeypatch.setattr(sqlrise, "readings", lambda *args: read.append(1) or stored_readings(*args))
    records = sorted((r for r in meter_history.records if r["state_value"] is not None), key=model.micros)
    for start in range(0, len(records), 50):  # the pipeline's usual order: each batch newer than the stored
        store.write(records[start:start + 50])
    assert read == []
    _assert_rises(store, records)
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_meter_s_rises_are_exact_when_a_batch_follows_an_event_without_a_reading_or_one_at_the_same_time(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest, meter_history: model.History) -> None:
    store = opened(backend, tmp_path, request)
    records = sorted(meter_history.records, key=model.micros)
    batches = [records[start:start + 50] for start in range(0, len(records), 50)]
    after = parse_timestamp(batches[3][-1]["time_fired"]) + dt.timedelta(milliseconds=1)
    unavailable = {**batches[3][-1], "time_fired": format_timestamp(after), "state": "unavailable",
                   "state_value": None}  # the newest event of its 5 minutes has no reading
    unavailable["event_id"] = state_change_id_at(model.METER, unavailable["time_fired"], "unavailable")
    batches[3].append(unavailable)
    for n, change in enumerate((-0.001, 1.0)):  # a reading at the newest stored one's time, smaller or greater
        last = next(r for r in reversed(batches[5 + n]) if r["state_value"] is not None)
        value = round(last["state_value"] + change, 3)
        twin = {**last, "state": f"{value:.3f}", "state_value": value}
        twin["event_id"] = state_change_id_at(model.METER, last["time_fired"], twin["state"])
        batches[6 + n].insert(0, twin)
    for batch in batches:
        store.write(batch)
    _assert_rises(store, [r for batch in batches for r in batch])
    store.close()
