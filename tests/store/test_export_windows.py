"""The SQL stores' export of a busy day: its blocks cut by hour, read a few minutes at a time, each decoded once;
blocks of the layout before the cut are cut again, nothing lost or reordered, an interrupted cut resumed."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ingestor import normalization
from ingestor.store import blocks, compaction, pruning, sqlread
from ingestor.store.model import EventFilter
from ingestor.store.sqlread import HOUR_US, Reader
from tests.store.conftest import opened
from tests.support.ha_events import state_changed

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # older than yesterday: compacted into blocks
BUSY, QUIET = 3_000, 30  # events of the day: a power meter (125 an hour) and a door


def day_of(start: dt.datetime, busy: int = BUSY, quiet: int = QUIET) -> list[dict[str, Any]]:
    """A meter every 28.8 s and a door every 48 min; the door's events fall at the meter's times too (ties
    broken by event id) and the first on the hour."""
    out = [state_changed("sensor.power", str(i), str(i + 1), start + dt.timedelta(seconds=86_400 * i / busy), unit="W")
           for i in range(busy)]
    out += [state_changed("binary_sensor.door", "off" if i % 2 else "on", "on" if i % 2 else "off",
                          start + dt.timedelta(seconds=86_400 * i / quiet), unit=None) for i in range(quiet)]
    return [normalization.normalize_event(e) for e in out]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    yield event_store
    event_store.close()


def written(store: Any, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 1000):
        store.write(events[i:i + 1000])
    while store.compact(30.0):
        pass


def block_spans(store: Any) -> dict[str, list[tuple[int, int, int]]]:
    """(first, last, n) of each block, per entity."""
    out: dict[str, list[tuple[int, int, int]]] = {}
    with store.engine.connect() as conn:
        for entity, first, last, n in conn.execute(text(
                "SELECT s.entity_id, b.first_ts, b.last_ts, b.n FROM blocks b JOIN series s ON s.id = b.series "
                "ORDER BY b.first_ts")):
            out.setdefault(entity, []).append((first, last, n))
    return out


def exported(store: Any, start: dt.datetime, days: int = 1) -> list[dict[str, Any]]:
    return [r for batch in store.export(start, start + dt.timedelta(days=days), batch=700) for r in batch]


def in_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda r: (r["time_fired"], r["event_id"]))


def test_a_block_spans_one_hour_or_holds_few_events(store: Any) -> None:
    written(store, day_of(DAY))
    spans = block_spans(store)
    assert all(first // HOUR_US == last // HOUR_US or n <= compaction.SPAN_EVENTS
               for series in spans.values() for first, last, n in series)
    assert [n for _, _, n in spans["sensor.power"]] == [125] * 24  # an hour each
    assert [n for _, _, n in spans["binary_sensor.door"]] == [QUIET]


def test_hours_in_a_row_share_a_block_while_they_hold_few_events(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compaction, "SPAN_EVENTS", 300)
    written(store, day_of(DAY))
    spans = block_spans(store)["sensor.power"]
    assert [n for _, _, n in spans] == [250] * 12
    assert all(last // HOUR_US - first // HOUR_US == 1 for first, last, _ in spans)


def test_a_day_exports_in_windows_each_block_decoded_once(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    written(store, day_of(DAY))
    monkeypatch.setattr(sqlread, "WINDOW_EVENTS", 200)  # windows of 25 minutes: blocks span several
    decoded: Counter[str] = Counter()
    section = blocks.Block._section

    def counted(self: blocks.Block, name: str) -> bytes:
        decoded[name] += 1
        return section(self, name)

    monkeypatch.setattr(blocks.Block, "_section", counted)
    assert len(exported(store, DAY)) == BUSY + QUIET
    assert decoded["c"] == sum(len(spans) for spans in block_spans(store).values())  # 25: the day's blocks


def test_a_day_spanning_many_blocks_and_windows_exports_in_order_and_exactly(store: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    events = day_of(DAY)
    written(store, events)
    monkeypatch.setattr(sqlread, "WINDOW_EVENTS", 333)
    assert exported(store, DAY) == in_order(events)
    window = [r for b in store.export(DAY + dt.timedelta(hours=5, minutes=7), DAY + dt.timedelta(hours=9, minutes=1))
              for r in b]
    lo, hi = "2026-11-20T05:07", "2026-11-20T09:01"
    assert window == [r for r in in_order(events) if lo <= r["time_fired"] < hi]


def _whole_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks as compaction cut them before the hourly cut: a series' day in equal parts of at most 8192."""
    monkeypatch.setattr(compaction, "parts", lambda rows: [rows[i:i + compaction.BLOCK_EVENTS]
                                                           for i in range(0, len(rows), compaction.BLOCK_EVENTS)])


def test_blocks_written_before_the_hourly_cut_are_cut_again_nothing_lost_or_reordered(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    events = day_of(DAY)
    with monkeypatch.context() as old_layout:
        _whole_days(old_layout)
        written(store, events)
    assert [n for _, _, n in block_spans(store)["sensor.power"]] == [BUSY]
    store._recut_done = False  # as a store opened on a database of the old layout
    store.compact(30.0)
    assert len(block_spans(store)["sensor.power"]) == 24
    assert exported(store, DAY) == in_order(events)


def test_an_interrupted_cut_resumes_where_it_stopped(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    events = day_of(DAY) + day_of(DAY + dt.timedelta(days=1))
    with monkeypatch.context() as old_layout:
        _whole_days(old_layout)
        written(store, events)
    store._recut_done = False
    calls = []
    recut = compaction.recut

    def killed_after_one(*args: Any) -> int:
        calls.append(args[2:])
        if len(calls) > 1:
            raise OperationalError("recut", {}, Exception("the database went away"))
        return recut(*args)

    with monkeypatch.context() as failing:
        failing.setattr(compaction, "recut", killed_after_one)
        store.compact(30.0)
    spans = block_spans(store)["sensor.power"]
    assert sorted(n for _, _, n in spans if n == BUSY) == [BUSY]  # one day cut, the other as it was
    store.compact(30.0)
    assert len(block_spans(store)["sensor.power"]) == 48
    assert exported(store, DAY, days=2) == in_order(events)


def windows_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of events of each window the store reads from here on."""
    read: list[int] = []
    scan_window = Reader.scan_window

    def counted(reader: Any, kept: Any, lo: int, hi: int) -> list[tuple[int, Any]]:
        found = scan_window(reader, kept, lo, hi)
        read.append(len(found))
        return found

    monkeypatch.setattr(Reader, "scan_window", counted)
    return read


def test_deleting_a_day_reads_it_in_windows_never_whole(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    written(store, day_of(DAY))
    monkeypatch.setattr(sqlread, "WINDOW_EVENTS", 200)
    read = windows_read(monkeypatch)
    assert store.delete(DAY, DAY + dt.timedelta(days=1)) == BUSY + QUIET
    assert sum(read) == BUSY + QUIET and max(read) <= 200
    assert store.count(EventFilter()) == 0


def test_deleting_a_day_holds_only_the_seconds_of_stays_that_began_before_it(store: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The day's own buckets go with their rows, so their sums are not kept while the day is read: the delete's
    memory does not grow with the series and 5 minutes of the day (a busy home's day: ~45 MB)."""
    written(store, day_of(DAY))
    held = []
    removed = pruning._removed
    monkeypatch.setattr(pruning, "_removed", lambda *args: held.append(removed(*args)) or held[-1])
    assert store.delete(DAY, DAY + dt.timedelta(days=1)) == BUSY + QUIET
    [(deltas, count)] = held
    day_start = int(DAY.timestamp())
    assert count == BUSY + QUIET and not deltas.fine and deltas.states  # the door's first stay began the day before
    assert all((bucket + 1) * pruning.ru.WIDTHS[period] <= day_start for _, period, bucket, _ in deltas.states)


def test_five_minutes_busier_than_a_window_are_read_in_slices_of_it(store: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy home's 5 minutes (5,200 events at 1.5 million a day) would otherwise be one window, held whole by
    the export and the delete however small the window is meant to be."""
    events = day_of(DAY)
    written(store, events)
    monkeypatch.setattr(sqlread, "WINDOW_EVENTS", 4)  # 5 minutes hold 10-11 meter events: 3 slices of 100 s
    read = windows_read(monkeypatch)
    assert exported(store, DAY) == in_order(events)
    assert sum(read) == BUSY + QUIET and max(read) <= 5  # at most 4 meter events in 100 s, and the door's
