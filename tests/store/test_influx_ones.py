"""`one=1i` on every event point (store/influxones.py): counts of raw points read it once every point has it,
and read the events' ids until then, so a point written before the field is never missed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import influxrollups as ir
from ingestor.store import open_event_store
from ingestor.store.lineprotocol import point
from ingestor.store.model import EventFilter
from tests.store import rollup_model as model
from tests.support.servers import store_url

START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
# Ends off the 5-minute buckets: every read below has a raw edge at each end.
WHOLE = EventFilter(start=START + dt.timedelta(minutes=37, seconds=11), end=START + dt.timedelta(hours=29, minutes=2))


def answers(reader: Any) -> dict[str, Any]:
    """The reads that count raw points: a count, a summary's tallies, a grid, last seen and events per device
    (newest times of the raw edges), and a trend with values."""
    return {
        "count": reader.count(WHOLE),
        "tallies": reader.tallies(WHOLE, {"domain": 10, "event_type": 10, "entity_id": 10, "area_id": 10}),
        "grid": reader.grid(WHOLE, "area_id", 3600),
        "last_seen": reader.last_seen(WHOLE, "entity_id"),
        "activity": reader.activity(WHOLE, "device_id"),
        "stats": [(a.start, a.count, a.value_count, a.min, a.max) for a in reader.stats(WHOLE, 3600)],
    }


def expected(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What `answers` must hold, worked out from the events themselves."""
    total = model.values(records, WHOLE, None, None)
    tallies = {}
    for by in ("domain", "event_type", "entity_id", "area_id"):
        found = [(key or None, acc[0]) for (key, _), acc in model.values(records, WHOLE, None, by).items()]
        tallies[by] = sorted(found, key=lambda kv: (-kv[1], kv[0] or ""))[:10]
    grid = sorted(((key or None, t, acc[0]) for (key, t), acc in model.values(records, WHOLE, 3600, "area_id").items()),
                  key=lambda c: (c[1], c[0] is not None, c[0] or ""))
    newest = {key or None: acc[5] for (key, _), acc in model.values(records, WHOLE, None, "entity_id").items()}
    by_device = model.values(records, WHOLE, None, "device_id")
    stats = sorted(model.values(records, WHOLE, 3600, None).items(), key=lambda kv: kv[0][1])
    at = model.US
    return {
        "count": total[(None, None)][0],
        "tallies": (total[(None, None)][0], tallies),
        "grid": [(key, dt.datetime.fromtimestamp(t / at, dt.UTC), n) for key, t, n in grid],
        "last_seen": [(key, dt.datetime.fromtimestamp(t / at, dt.UTC)) for key, t in
                      sorted(newest.items(), key=lambda kv: (-kv[1], kv[0] or ""))],
        "activity": {key or None: (acc[0], dt.datetime.fromtimestamp(acc[5] / at, dt.UTC))
                     for (key, _), acc in by_device.items()},
        "stats": [(dt.datetime.fromtimestamp(t / at, dt.UTC), a[0], a[1], a[3], a[4]) for (_, t), a in stats],
    }


def ones_per_measurement(store: Any) -> dict[str, tuple[int, int]]:
    """Per event measurement: (points with an event id, points with `one`)."""
    return {s["name"]: (s["values"][0][1], s["values"][0][2]) for s in store.transport.query(
        'SELECT count("event_id"), count("one") FROM /.*/ WHERE "event_type" != \'\'')}


def written_before_the_field(url: str, records: list[dict[str, Any]]) -> Any:
    """A database holding `records` as the previous version wrote them (no `one`), its rollups built."""
    old = open_event_store(url)
    old._prepare()
    old.transport.write("\n".join(point(r).replace("one=1i,", "") for r in records))
    old.build_rollups()
    return old


def test_a_new_database_gives_every_event_point_one_and_counts_it(tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    history = model.home(seed=41, start=START, hours=30, events=1500)
    store = open_event_store(store_url("influxdb1", tmp_path, request))
    for batch in history.batches:  # a fifth of them delivered twice
        store.write(batch)
    assert {n for pair in ones_per_measurement(store).values() for n in pair} <= set(range(1, 1501))
    assert all(with_id == with_one for with_id, with_one in ones_per_measurement(store).values())
    assert sum(with_one for _, with_one in ones_per_measurement(store).values()) == len(history.records)
    assert store._counted() == "one"  # marked at the first write, which found no events
    assert answers(store) == expected(history.records)
    store.close()


def test_a_database_written_before_the_field_counts_event_ids_until_it_is_filled_in_place(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    history = model.home(seed=42, start=START, hours=30, events=1500)
    url = store_url("influxdb1", tmp_path, request)
    old = written_before_the_field(url, history.records[:900])
    assert old.transport.query(f'SELECT * FROM "{ir.ONES_READY}"') == []  # the rollups' fill does not claim it
    store = open_event_store(url)
    for batch in history.batches:  # this version's batches: with `one`, but the database held events before
        store.write([r for r in batch if r in history.records[900:]])
    assert sum(with_one for _, with_one in ones_per_measurement(store).values()) == 600
    assert answers(store) == expected(history.records)
    assert store._counted() == "event_id"

    assert sum(n for _, n in store.fill_ones()) == 1500

    assert all(with_id == with_one for with_id, with_one in ones_per_measurement(store).values())
    fresh = open_event_store(url)  # another process: it finds the marker
    assert fresh._counted() == "one"
    assert answers(fresh) == expected(history.records)
    assert sum(with_id for with_id, _ in ones_per_measurement(store).values()) == 1500  # no point added
    store.close()


def test_a_fill_stopped_midway_and_run_again_gives_every_point_one_once_later_ones_too(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    history = model.home(seed=43, start=START, hours=30, events=1500)
    ahead = model.home(seed=44, start=START + dt.timedelta(days=5), hours=2, events=100)  # a clock ahead wrote them
    url = store_url("influxdb1", tmp_path, request)
    old = written_before_the_field(url, history.records + ahead.records)
    filling = old.fill_ones()
    next(filling)  # its first hour, then stopped
    filling.close()
    stopped = open_event_store(url)
    assert answers(stopped) == expected(history.records) and stopped._counted() == "event_id"

    again = open_event_store(url)
    list(again.fill_ones())

    assert all(with_id == with_one for with_id, with_one in ones_per_measurement(again).values())
    assert sum(with_one for _, with_one in ones_per_measurement(again).values()) == 1600
    assert answers(open_event_store(url)) == expected(history.records)
    again.close()
