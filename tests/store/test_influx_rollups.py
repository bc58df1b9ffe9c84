"""InfluxDB has no transactions: its rollups are summed again from the raw points of the buckets a batch
touched. The write function takes batches concurrently (threads of one process), so two batches landing in
the same buckets at once must still leave rollups equal to the points stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store import influxrollups as ir
from ingestor.store import open_event_store
from ingestor.store.lineprotocol import point
from ingestor.store.model import EventFilter
from tests.store import rollup_model as model
from tests.store.conftest import opened
from tests.store.stays import newest_first
from tests.support.ha_events import state_changed
from tests.support.servers import store_url

START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


def test_batches_written_at_once_into_the_same_buckets_leave_rollups_equal_to_the_points(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    history = model.home(seed=21, start=START, hours=4, events=4800)  # 48 five-minute buckets, ~100 events each
    width = 300 * 1_000_000
    buckets: dict[int, list[dict[str, Any]]] = {}
    for r in history.records:
        buckets.setdefault(model.micros(r) // width, []).append(r)
    store = opened("influxdb1", tmp_path, request)
    together = threading.Barrier(2)
    failures: list[BaseException] = []

    def write(lane: int) -> None:  # both lanes write half of the same bucket at the same moment, bucket by bucket
        try:
            for bucket in sorted(buckets):
                together.wait(timeout=60)
                store.write(buckets[bucket][lane::2])
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(lane,)) for lane in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    whole = EventFilter(start=START, end=START + dt.timedelta(hours=4))
    info: dict[str, Any] = {}
    got = {int(s.start.timestamp()) * 1_000_000 // width: s.count for s in store.stats(whole, 300, info)}
    assert info["resolution"] == "5m"  # read from the rollups alone
    assert got == {bucket: len(events) for bucket, events in buckets.items()}
    store.close()


def test_a_database_written_before_rollups_answers_from_raw_points_until_its_rollups_are_built(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    history = model.home(seed=22, start=START, hours=30, events=1500)
    url = store_url("influxdb1", tmp_path, request)
    old = open_event_store(url)
    old._prepare()
    old.transport.write("\n".join(point(r) for r in history.records[:1000]))  # as the previous version wrote them
    store = open_event_store(url)
    for batch in history.batches:  # a writer of this version, on the old database: rollups of its batches only
        store.write([r for r in batch if r in history.records[1000:]])
    whole = EventFilter(start=START - dt.timedelta(days=1), end=START + dt.timedelta(days=2))
    info: dict[str, Any] = {}
    assert store.count(whole, info=info) == len(history.records) and info["resolution"] == "raw"

    store.build_rollups()

    fresh = open_event_store(url)  # another process: it finds the rollups complete
    for reader in (store, fresh):
        got = [(int(s.start.timestamp()) * 1_000_000, s.count, s.value_count, s.min, s.max)
               for s in reader.stats(whole, 3600, info=info)]
        assert "1h" in info["resolution"]
        assert got == [(bucket, a[0], a[1], a[3], a[4]) for (_, bucket), a in
                       sorted(model.values(history.records, whole, 3600, None).items(), key=lambda kv: kv[0][1])]
        durations = {(d.entity_id, d.state): d.count for d in reader.durations(whole, limit=1000)}
        assert durations == {key: len(v) for key, v in model.durations(history.records, whole).items()}
    store.close()


def previous_version(seed: int, statements: list[str], tmp_path: Path,
                     request: pytest.FixtureRequest) -> tuple[str, Any, Any, model.History]:
    """A database holding all but the last batch as the previous version left it (`statements` take away what
    it did not write), then the last batch written by this version (its own batch's rollups only; it marks READY
    anew): (url, the store, the store of this version, the history)."""
    history = model.home(seed=seed, start=START, hours=30, events=1500)
    url = store_url("influxdb1", tmp_path, request)
    store = open_event_store(url)
    for batch in history.batches[:-1]:
        store.write(batch)
    for statement in statements:
        store.transport.query(statement)
    older = open_event_store(url)
    older.write(history.batches[-1])
    return url, store, older, history


def test_a_database_whose_rollups_came_before_the_dimension_counts_reads_the_series_rollups_until_rebuilt(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url, store, older, history = previous_version(  # no dims_* at all
        23, [f'DROP MEASUREMENT "{name}"' for name in (*ir.DIMS.values(), ir.DIMS_READY)], tmp_path, request)
    whole = EventFilter(start=START - dt.timedelta(days=1), end=START + dt.timedelta(days=2))

    def grid(reader: Any) -> dict[tuple[str | None, int], int]:
        return {(key, int(t.timestamp()) * 1_000_000): n for key, t, n in reader.grid(whole, "area_id", 3600)}

    found = model.values(history.records, whole, 3600, "area_id")
    want = {(key or None, bucket): acc[0] for (key, bucket), acc in found.items()}
    read_alike_until_rebuilt(url, store, older, ir.DIMS_READY, grid, want, whole, "area_id")


def read_alike_until_rebuilt(url: str, store: Any, older: Any, marker: str, read: Any, want: Any,
                             whole: EventFilter, group: str) -> None:
    """`read` answers `want` from rollup_* while `marker` is missing, then, once `older` built the rollups
    again, the same from dims_* grouped by `group`."""
    stale = open_event_store(url)
    assert read(stale) == want and stale._dim(whole, (group,)) is None  # read from rollup_*
    assert store.transport.query(f'SELECT * FROM "{marker}"') == []

    older.build_rollups()

    fresh = open_event_store(url)
    assert read(fresh) == want
    assert fresh._dim(whole, (group,)) == group  # now read from dims_*
    store.close()


def test_a_database_whose_dimension_counts_came_before_the_device_counts_reads_the_series_rollups_until_rebuilt(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url, store, older, history = previous_version(  # dims_* by domain and area only, and no devices_ready
        26, [f'DROP MEASUREMENT "{ir.DEVICES_READY}"']
        + [f'DELETE FROM "{name}" WHERE "by" = \'device_id\'' for name in ir.DIMS.values()], tmp_path, request)
    whole = EventFilter(start=START - dt.timedelta(days=1), end=START + dt.timedelta(days=2, minutes=7))
    found = model.values(history.records, whole, None, "device_id")
    want = {key: (acc[0], acc[5]) for (key, _), acc in found.items() if key}

    def activity(reader: Any) -> dict[str | None, tuple[int, int]]:  # reliability's read: events, newest per device
        return {key: (n, int(t.timestamp() * 1_000_000)) for key, (n, t) in reader.activity(whole, "device_id").items()
                if key}

    read_alike_until_rebuilt(url, store, older, ir.DEVICES_READY, activity, want, whole, "device_id")


def test_a_database_whose_stays_came_before_the_state_counts_reads_a_state_s_events_whole_until_rebuilt(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url, store, older, history = previous_version(  # stays_* without entered and left: none names "unavailable"
        25, [f'DROP MEASUREMENT "{ir.STATES_READY}"']
        + [f'DELETE FROM "{name}" WHERE "state" = \'unavailable\'' for name in ir.STAYS.values()], tmp_path, request)
    whole = EventFilter(start=START - dt.timedelta(days=1), end=START + dt.timedelta(days=2))

    def unavailable(reader: Any) -> list[str]:
        got, cursor = [], None
        while True:
            page = reader.query(dataclasses.replace(whole, state="unavailable"), limit=50, cursor=cursor)
            got += [r["event_id"] for r in page.items]
            if (cursor := page.next_cursor) is None:
                return got

    want = sorted(((model.micros(r), r["event_id"]) for r in history.records if r["state"] == "unavailable"),
                  reverse=True)
    assert want and unavailable(open_event_store(url)) == [event_id for _, event_id in want]
    assert store.transport.query(f'SELECT * FROM "{ir.STATES_READY}"') == []

    older.build_rollups()

    fresh = open_event_store(url)
    assert unavailable(fresh) == [event_id for _, event_id in want]
    assert fresh._holding(dataclasses.replace(whole, state="unavailable")) is not None  # now found by the stays
    store.close()


@pytest.mark.parametrize(("hours", "events"), [(3, 600), (48, 300)])  # the last hour holds more than a page, or less
@pytest.mark.parametrize(("text", "start"), [(None, START), ("kitchen", START), ("PAUS", START), ("kitchen", None)])
def test_pages_of_the_newest_events_are_those_of_the_whole_range_whether_the_last_hour_holds_a_page_or_not(
        tmp_path: Path, request: pytest.FixtureRequest, hours: int, events: int, text: str | None,
        start: dt.datetime | None) -> None:
    """Read a window at a time from the range's end back (a text's matches are rarer: several windows make a
    page, a page's matches lie in several windows), and a range without a start too."""
    history = model.home(seed=24, start=START, hours=hours, events=events)
    store = opened("influxdb1", tmp_path, request)
    for batch in history.batches:
        store.write(batch)
    whole = EventFilter(start=start, end=START + dt.timedelta(hours=hours), text=text)
    got, cursor = [], None
    while True:
        page = store.query(whole, limit=100, cursor=cursor)
        got += [r["event_id"] for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    want = sorted({(model.micros(r), r["event_id"]) for r in history.records if model.matches(r, whole)}, reverse=True)
    assert got == [event_id for _, event_id in want]
    store.close()


def test_stays_of_events_without_an_entity_are_in_the_stay_groups_too(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Their series have no entity_id tag: the entities read for stays name the missing one too."""
    at = START + dt.timedelta(minutes=10)
    stays = [normalization.normalize_event(state_changed(entity, "on", "off", at + dt.timedelta(seconds=n), unit=None))
             for n, entity in enumerate(("light.hall", "light.porch"))]
    stays[1].update(entity_id=None)
    store = opened("influxdb1", tmp_path, request)
    store.write(stays)
    samples = newest_first(store.stay_groups(EventFilter(start=START, end=START + dt.timedelta(hours=1))))
    assert [(s.entity_id, s.state) for s in samples] == [("", "on"), ("light.hall", "on")]
    store.close()
