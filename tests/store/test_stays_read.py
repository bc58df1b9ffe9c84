"""The SQL stores' read of the newest stays (the duration anomalies' sample) from a compressed day: from its
packed stays (store/coldstays.py), no block decoded; from the blocks of the hours holding them, in a day
compacted before stays were packed; either way a stay's event id is worked out only when asked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ingestor import normalization
from ingestor.store import blocks, coldstays
from ingestor.store.model import EventFilter, StayGroup
from ingestor.timeutil import parse_timestamp
from tests.store.conftest import opened
from tests.store.stays import blocks_read, compacted, newest_first, unpack
from tests.support.ha_events import state_changed

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # older than yesterday: compacted into blocks
PER_HOUR = 180  # a switch toggling every 20 s: more than compaction.SPAN_EVENTS, so a block an hour
WHOLE_DAY = EventFilter(start=DAY, end=DAY + dt.timedelta(days=1))


def toggling(entity_id: str, changes: int) -> list[dict[str, Any]]:
    """A switch turned on and off every 20 s from the start of DAY."""
    return [normalization.normalize_event(state_changed(entity_id, "off" if i % 2 else "on", "on" if i % 2 else "off",
                                                        DAY + dt.timedelta(seconds=20 * i), unit=None))
            for i in range(changes)]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    compacted(event_store, toggling("switch.pump", 24 * PER_HOUR))
    yield event_store
    event_store.close()


def seen(groups: list[StayGroup]) -> list[tuple[Any, ...]]:
    return [(s.entity_id, s.state, s.time, s.duration, s.event_id) for s in newest_first(groups)]


def test_the_stays_of_a_packed_day_are_read_without_decoding_a_block(store: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    records = [r for batch in store.export(DAY, DAY + dt.timedelta(days=1)) for r in batch]
    expected = sorted(((r["entity_id"], r["old_state"], parse_timestamp(r["time_fired"]), r["duration_in_state"],
                        r["event_id"]) for r in records if r["duration_in_state"] is not None),
                      key=lambda s: (s[2], s[4]), reverse=True)
    read = blocks_read(monkeypatch)
    assert seen(store.stay_groups(WHOLE_DAY, limit=100_000)) == expected
    assert seen(store.stay_groups(WHOLE_DAY, limit=PER_HOUR + 20)) == expected[:PER_HOUR + 20]
    assert not read


def test_a_day_compacted_before_stays_were_packed_is_read_from_its_blocks_as_a_packed_one_is(store: Any) -> None:
    packed = seen(store.stay_groups(WHOLE_DAY, limit=100_000))
    unpack(store)
    assert seen(store.stay_groups(WHOLE_DAY, limit=100_000)) == packed


def test_the_newest_stays_of_a_day_compacted_before_stays_were_packed_decode_only_the_blocks_of_their_hours(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    unpack(store)
    everything = seen(store.stay_groups(WHOLE_DAY, limit=100_000))
    read = blocks_read(monkeypatch)
    newest = store.stay_groups(WHOLE_DAY, limit=PER_HOUR + 20)
    assert len(read) == 2  # 23:00 and 22:00, not the day's 24 blocks
    assert seen(newest) == everything[:PER_HOUR + 20]
    read.clear()
    before_23 = store.stay_groups(EventFilter(start=DAY, end=DAY + dt.timedelta(hours=23)), limit=10)
    assert len(read) == 1
    assert seen(before_23) == [s for s in everything if s[2] < DAY + dt.timedelta(hours=23)][:10]


def assert_ids_worked_out_only_when_asked(store: Any, monkeypatch: pytest.MonkeyPatch, holder: type) -> None:
    """`holder` (a packed day, a block) works out a stay's id only for the one asked for."""
    expected = {r["event_id"] for batch in store.export(DAY, DAY + dt.timedelta(days=1)) for r in batch}
    worked_out: list[int] = []
    eid = holder.eid  # type: ignore[attr-defined]

    def counted(self: Any, i: int) -> bytes:
        worked_out.append(i)
        return eid(self, i)  # type: ignore[no-any-return]

    monkeypatch.setattr(holder, "eid", counted)
    (left_off, left_on) = sorted(store.stay_groups(WHOLE_DAY, limit=100_000), key=lambda g: g.state)
    assert len(left_off.durations) + len(left_on.durations) == 24 * PER_HOUR and not worked_out
    assert left_on.event_id(7) in expected
    assert len(worked_out) == 1


def test_a_packed_stays_event_id_is_worked_out_only_when_asked(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_ids_worked_out_only_when_asked(store, monkeypatch, coldstays.Day)


def test_the_event_id_of_a_stay_in_a_day_compacted_before_stays_were_packed_is_worked_out_only_when_asked(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    unpack(store)
    assert_ids_worked_out_only_when_asked(store, monkeypatch, blocks.Block)


def test_newest_hours_holding_too_few_stays_are_followed_by_the_rest_of_the_day(
        store: Any) -> None:
    """Stays of a negative duration (a record written so) count in the rollups' stays, not in the sample."""
    skewed = [normalization.normalize_event(state_changed("switch.skewed", "off" if i % 2 else "on",
                                                          "on" if i % 2 else "off",
                                                          DAY + dt.timedelta(hours=23, seconds=20 * i), unit=None))
              for i in range(PER_HOUR)]
    for record in skewed:
        record["duration_in_state"] = -30.0
    store.write(skewed)
    while store.compact(30.0):
        pass
    everything = seen(store.stay_groups(WHOLE_DAY, limit=100_000))
    assert {s[0] for s in everything} == {"switch.pump"}
    assert seen(store.stay_groups(WHOLE_DAY, limit=PER_HOUR + 20)) == everything[:PER_HOUR + 20]


def test_compressed_stays_at_one_microsecond_are_read_as_their_records_say(store: Any) -> None:
    """Two series changing at the same instant: the tie is broken by event id, and each stay keeps its own state
    left and duration."""
    compacted(store, toggling("switch.fan", PER_HOUR))
    records = [r for batch in store.export(DAY, DAY + dt.timedelta(days=1)) for r in batch
               if r["duration_in_state"] is not None]
    expected = sorted(((r["time_fired"], r["event_id"], r["entity_id"], r["old_state"], r["duration_in_state"])
                       for r in records), reverse=True)
    samples = newest_first(store.stay_groups(WHOLE_DAY, limit=100_000))
    assert [(s.entity_id, s.state, s.duration, s.event_id) for s in samples] == [e[2:] + (e[1],) for e in expected]


def test_a_limit_falling_among_stays_at_one_microsecond_keeps_those_of_the_greatest_event_ids(store: Any) -> None:
    """Two series changing at the same instants, a limit cutting between the two stays of one instant (at a
    day's newest instant, and mid-day): the newest by time, then event id, as a scan orders them, from the
    packed stays and from the blocks of a day compacted before stays were packed."""
    compacted(store, toggling("switch.fan", 24 * PER_HOUR))
    everything = seen(store.stay_groups(WHOLE_DAY, limit=100_000))
    assert everything[0][2] == everything[1][2]  # the fan's and the pump's newest stays share their time
    for packed in (True, False):
        if not packed:
            unpack(store)
        for limit in (1, 3, 2 * PER_HOUR + 1, 30 * PER_HOUR + 7):
            assert seen(store.stay_groups(WHOLE_DAY, limit=limit)) == everything[:limit], (packed, limit)


def test_a_read_of_every_series_asks_the_hot_tier_once_for_the_stays_of_all_its_days(store: Any) -> None:
    """Hot stays on three days of a four-day range, one of them a late stay on the packed day (not compacted
    yet): the range's newest `limit`, the cut falling among the packed day's, from one query of the hot tier
    (not one a day)."""
    store.now_us = lambda: 0  # nothing written from here on is older than yesterday: it stays hot
    hall = [DAY + dt.timedelta(days=3, hours=2), DAY + dt.timedelta(days=3, hours=1),
            DAY + dt.timedelta(days=1, hours=6), DAY + dt.timedelta(hours=23, minutes=59, seconds=50)]
    store.write([normalization.normalize_event(state_changed("switch.hall", "off" if i % 2 else "on",
                                                             "on" if i % 2 else "off", at, unit=None))
                 for i, at in enumerate(hall)])
    hot_reads: list[str] = []

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM hot_events" in statement:
            hot_reads.append(statement)

    event.listen(store.engine, "before_cursor_execute", counted)
    four_days = EventFilter(start=DAY, end=DAY + dt.timedelta(days=4))
    samples = newest_first(store.stay_groups(four_days, limit=len(hall) + 10))
    event.remove(store.engine, "before_cursor_execute", counted)
    pump = [DAY + dt.timedelta(seconds=20 * i) for i in range(24 * PER_HOUR - 1, 24 * PER_HOUR - 11, -1)]
    assert [(s.entity_id, s.time) for s in samples] == [("switch.hall", at) for at in hall] + [
        ("switch.pump", at) for at in pump]
    assert len(hot_reads) == 1
