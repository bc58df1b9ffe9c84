"""bench/influxcopy.py: a day copied on InfluxDB answers every question of bench/daycheck.py as its source day does,
shifted, and the trace of a copied automation run finds the copy's events (its ULID context ids moved too)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from bench import daycheck, daycopy, influxcopy
from bench.busy_home import BusyHome
from ingestor.store import open_event_store
from tests.support.servers import store_url

DAY_US = 86_400_000_000


def test_a_ulid_moves_by_the_shift_and_anything_else_is_kept() -> None:
    ulid = "01JD7Z5Q6G" + "ABCDEFGHJKMNPQRS"
    moved = influxcopy.shift_ulid(ulid, -86_400_000)
    assert moved[10:] == ulid[10:] and moved != ulid
    assert influxcopy.shift_ulid(moved, 86_400_000) == ulid
    assert influxcopy.shift_ulid("not-a-ulid", 86_400_000) == "not-a-ulid"


def test_a_copied_day_answers_as_its_source_shifted(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = store_url("influxdb1", tmp_path, request)
    today = int(time.time()) // 86_400
    store = open_event_store(url)
    try:
        for day in (today, today - 1):
            records = BusyHome().generate(1_500, day * DAY_US, (day + 1) * DAY_US, seed=day,
                                          namespace=f"day{day}").records
            for i in range(0, len(records), 5000):
                store.write(records[i:i + 5000])
        sources = [today - 1, today]

        influxcopy.fill(store, [today - 2, today - 3], sources, daycopy.source_of, lambda _: None)

        for target in (today - 2, today - 3):
            source = daycopy.source_of(target, sources)
            copied_day = dt.datetime.fromtimestamp(target * 86_400, dt.UTC)
            lines = daycheck.compare(store, source, target)
            names = daycheck.questions(copied_day).keys()
            asked = [line for line in lines if line.split(": ")[0] in names]
            assert len(asked) == len(names)
            assert all(line.endswith(": same") for line in asked), lines
            source_day = dt.datetime.fromtimestamp(source * 86_400, dt.UTC)
            assert daycheck.trace_counts(store, copied_day) == daycheck.trace_counts(store, source_day)
            assert daycheck.trace_counts(store, copied_day)[0] > 0
    finally:
        store.close()
