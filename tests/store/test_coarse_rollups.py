"""The series and dimension rollups' 16-day buckets (rollups.COARSE), which counts, charts, last-seen times and
reliability read over long ranges: each is its days' rows summed (counts, least, greatest, the newest time and its
value exactly, sums to float tolerance) as writes build it (out of order, late, some batches twice), after deletes
that cut it, and as schema step 13 makes it on a database written before; the answers read from them are the
events' own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingestor.store import open_event_store, sqlwrite
from ingestor.store import rollups as ru
from ingestor.store.migrate import upgrade
from ingestor.store.model import EventFilter
from ingestor.store.sqlengine import engine_for
from ingestor.store.sqlschema import MIGRATIONS
from ingestor.store.timerange import to_micros
from ingestor.timeutil import parse_timestamp
from tests.store import coarse
from tests.store import rollup_model as model
from tests.store.coarse import CUTS, DAYS, END, START
from tests.support.servers import store_url

EVENT_TABLES = ("rollups", "dim_rollups")
GROUPS = ["entity_id", "domain", "event_type", "area_id", "device_id"]
WIDTHS = [3600, 86_400, 16 * 86_400, 32 * 86_400]
TRIALS = 16


@pytest.fixture(scope="module")
def history() -> model.History:
    return model.home(seed=23, start=START, hours=DAYS * 24, events=3000)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, tmp_path, request)


@pytest.fixture
def loaded(url: str, history: model.History) -> Iterator[Any]:
    yield from coarse.loaded(url, history)


def written(store: Any) -> dict[str, coarse.Rows]:
    return {table: coarse.rows(store, table, ru.COARSE) for table in EVENT_TABLES}


def test_writes_keep_each_16_day_row_its_days_rows_summed(loaded: Any) -> None:
    coarse.assert_coarse_rows_are_days_summed(loaded, EVENT_TABLES)


def test_the_device_dimension_has_16_day_rows_though_no_5_minute_ones(loaded: Any) -> None:
    dims = coarse.rows(loaded, "dim_rollups", ru.COARSE)
    assert any(dim == ru.DEVICE for dim, _, _ in dims)
    assert not any(dim == ru.DEVICE for dim, _, _ in coarse.rows(loaded, "dim_rollups", 0))


def test_a_redelivered_batch_changes_no_16_day_row(loaded: Any, history: model.History) -> None:
    before = written(loaded)
    for batch in history.batches[::3]:
        loaded.write(batch)
    assert written(loaded) == before


def test_the_newest_time_and_value_of_a_16_day_row_are_its_newest_event_s(loaded: Any,
                                                                        history: model.History) -> None:
    newest: dict[tuple[str, int], tuple[int, Any]] = {}
    width = ru.WIDTHS[ru.COARSE] * ru.US
    for r in sorted(history.records, key=lambda r: (model.micros(r), r["state_value"] is not None,
                                                    r["state_value"] or 0)):
        newest[(r["entity_id"], model.micros(r) // width)] = (model.micros(r) % width, r["state_value"])
    with loaded.engine.connect() as conn:
        found = conn.execute(text("SELECT s.entity_id, r.bucket, r.last_ts, r.last_value FROM rollups r "
                                  f"JOIN series s ON s.id = r.series WHERE r.period = {ru.COARSE} "
                                  "AND s.event_type = 'state_changed'")).all()
    assert found and all(newest[(entity, bucket)] == (last_ts, last_value) for entity, bucket, last_ts, last_value
                         in found)


def cut_newest_days() -> tuple[dt.datetime, dt.datetime]:
    """The last day and a half of the 16-day bucket holding START + 60 days (and an hour after it): its newest day
    is another after the delete."""
    width = ru.WIDTHS[ru.COARSE] * ru.US
    end = (to_micros(START + dt.timedelta(days=60)) // width + 1) * width
    return (dt.datetime.fromtimestamp((end - 36 * 3600 * ru.US) / ru.US, dt.UTC),
            dt.datetime.fromtimestamp(end / ru.US + 3600, dt.UTC))


def test_deletes_that_cut_16_day_buckets_leave_each_its_days_rows_summed(loaded: Any, history: model.History) -> None:
    cuts = [*CUTS, cut_newest_days()]
    for lo, hi in cuts:
        loaded.delete(lo, hi)
    coarse.assert_coarse_rows_are_days_summed(loaded, EVENT_TABLES)
    kept = [r for r in history.records if not any(lo <= parse_timestamp(r["time_fired"]) < hi for lo, hi in cuts)]
    for group in GROUPS:
        f = EventFilter(start=START, end=END)
        newest = {key: acc[5] for (key, _), acc in model.values(kept, f, None, group).items()}
        assert {key: to_micros(t) for key, t in loaded.last_seen(f, group)} == newest, group
        assert dict(loaded.counts(f, group, limit=1000)) == \
            {key: acc[0] for (key, _), acc in model.values(kept, f, None, group).items()}, group


def unwritten(url: str, store: Any) -> None:
    """The database as step 12 left it: no 16-day row of the series and dimension rollups."""
    store.close()
    with engine_for(url).begin() as conn:
        for table in EVENT_TABLES:
            conn.execute(text(f"DELETE FROM {table} WHERE period = {ru.COARSE}"))
        conn.execute(text("DELETE FROM schema_version WHERE version = 13"))


def test_a_database_written_before_step_13_gets_the_16_day_rows_write_makes(url: str, loaded: Any) -> None:
    made = written(loaded)
    unwritten(url, loaded)
    store = open_event_store(url)
    store.count(EventFilter(start=START, end=END))  # the store's first call upgrades its database
    for table in EVENT_TABLES:
        coarse.assert_same_rows(coarse.rows(store, table, ru.COARSE), made[table], table)
    store.close()


def test_an_interrupted_step_13_leaves_no_16_day_row_and_runs_again(url: str, loaded: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    made = written(loaded)
    unwritten(url, loaded)
    every_key = sqlwrite._every_key

    def killed_at_the_dimensions(table: str, dialect: str) -> list[str]:
        if table == "dim_rollups":
            raise KeyboardInterrupt  # the process ends mid-step: the series' rows are written, uncommitted
        return every_key(table, dialect)

    with monkeypatch.context() as patched:
        patched.setattr(sqlwrite, "_every_key", killed_at_the_dimensions)
        with pytest.raises(KeyboardInterrupt):
            upgrade(engine_for(url), MIGRATIONS)
    store = open_event_store(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT max(version) FROM schema_version")).scalar() == 12
        assert conn.execute(text(f"SELECT count(*) FROM rollups WHERE period = {ru.COARSE}")).scalar() == 0
    store.count(EventFilter(start=START, end=END))  # the next start runs the step again
    for table in EVENT_TABLES:
        coarse.assert_same_rows(coarse.rows(store, table, ru.COARSE), made[table], table)
    store.close()


def long_range(rng: random.Random) -> tuple[dt.datetime, dt.datetime]:
    """A range of 32 days or more inside the history, its ends anywhere, on an hour or on a day."""
    span = DAYS * 86_400 * ru.US
    length = rng.randrange(32 * 86_400 * ru.US, span)
    lo = to_micros(START) + rng.randrange(span - length)
    ends = []
    for at in (lo, lo + length):
        unit = rng.choice([1, 3600 * ru.US, 86_400 * ru.US])
        ends.append(dt.datetime.fromtimestamp(at // unit * unit / ru.US, dt.UTC))
    return ends[0], ends[1]


def random_filter(rng: random.Random) -> EventFilter:
    entity, area, device, _ = rng.choice(model.ENTITIES)
    return rng.choice([EventFilter(), EventFilter(entity_id=entity), EventFilter(domain=entity.split(".")[0]),
                       EventFilter(event_type="call_service"), EventFilter(area_id=area),
                       EventFilter(device_id=device), EventFilter(state=rng.choice(["on", "off", "unavailable"])),
                       EventFilter(domain=entity.split(".")[0], area_id=area)])


def test_aggregates_over_ranges_of_16_day_buckets_are_the_events_own(loaded: Any, history: model.History) -> None:
    rng = random.Random(2020)
    tiers: set[str] = set()
    for trial in range(TRIALS):
        start, end = long_range(rng)
        f = dataclasses.replace(random_filter(rng), start=start, end=end)
        width, group = rng.choice(WIDTHS), rng.choice(GROUPS)
        where = f"trial {trial}: {f}, width {width}, group {group}"
        info: dict[str, Any] = {}
        assert loaded.count(f, info=info) == sum(a[0] for a in model.values(history.records, f, None, None).values()), \
            where
        tiers.add(info["resolution"])
        got = [(to_micros(s.start), s.count, s.value_count, s.min, s.max, s.mean)
               for s in loaded.stats(f, width, info=info)]
        tiers.add(info["resolution"])
        want = [(bucket, acc[0], acc[1], acc[3], acc[4], acc[2] / acc[1] if acc[1] else None) for (_, bucket), acc
                in sorted(model.values(history.records, f, width, None).items(), key=lambda kv: kv[0][1])]
        assert [g[:5] for g in got] == [w[:5] for w in want], where
        assert [g[5] for g in got] == pytest.approx([w[5] for w in want]), where
        grouped = model.values(history.records, f, None, group)
        assert dict(loaded.counts(f, group, limit=1000)) == {key: acc[0] for (key, _), acc in grouped.items()}, where
        cells = model.values(history.records, f, width, group)
        assert {(key, to_micros(t)): n for key, t, n in loaded.grid(f, group, width)} == \
            {(key, bucket): acc[0] for (key, bucket), acc in cells.items()}, where
        assert {key: to_micros(t) for key, t in loaded.last_seen(f, group)} == \
            {key: acc[5] for (key, _), acc in grouped.items()}, where
    assert any(t.startswith("16d") for t in tiers), tiers


def test_chart_series_over_ranges_of_16_day_buckets_are_the_events_own(loaded: Any, history: model.History) -> None:
    """An entity's chart buckets, over ranges cut anywhere and ranges of whole buckets of 32 days (their 16-day rows
    summed in the database)."""
    rng = random.Random(2021)
    for trial in range(TRIALS):
        start, end = long_range(rng)
        width = rng.choice(WIDTHS)
        if rng.random() < 0.5:
            width = 32 * 86_400
            w = width * ru.US
            start, end = (dt.datetime.fromtimestamp(t / ru.US, dt.UTC)
                          for t in (to_micros(START) // w * w, -(-to_micros(END) // w) * w))
        entity = rng.choice(model.ENTITIES)[0]
        got = loaded.series_columns([entity], start, end, width)[entity]
        found = model.values(history.records, EventFilter(entity_id=entity, start=start, end=end), width, None)
        want = sorted((bucket, acc[0], acc[2] / acc[1] if acc[1] else None, acc[3], acc[4])
                      for (_, bucket), acc in found.items())
        where = f"trial {trial}: {entity} {start} {end}, width {width}"
        assert list(zip(got.start, got.count, got.min, got.max, strict=True)) == \
            [(b, n, lo, hi) for b, n, _, lo, hi in want], where
        assert got.mean == pytest.approx([w[2] for w in want]), where


def test_a_range_holding_two_16_day_buckets_reads_them_and_says_so(loaded: Any) -> None:
    info: dict[str, Any] = {}
    loaded.tallies(EventFilter(start=START, end=END), {"entity_id": 10, "device_id": 10}, info=info)
    assert info["resolution"].startswith("16d+")
    loaded.stats(EventFilter(start=START, end=END), 32 * 86_400, info=info)
    assert info["resolution"].startswith("16d+")


def test_a_range_holding_one_16_day_bucket_reads_days(loaded: Any) -> None:
    info: dict[str, Any] = {}
    loaded.count(EventFilter(start=END - dt.timedelta(days=30), end=END), info=info)
    assert "16d" not in info["resolution"] and "1d" in info["resolution"]
