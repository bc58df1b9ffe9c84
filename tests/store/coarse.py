"""The 16-day rows (rollups.COARSE) of the SQL rollup tables against their days' rows, summed here in Python: what
writes, deletes, schema steps 12 and 13 and bench/daycopy.py must all leave behind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from ingestor.store import open_event_store
from ingestor.store import rollups as ru
from tests.store import rollup_model as model

DAY_US = ru.PERIODS[2] * ru.US
DAYS = 80  # four whole 16-day buckets at least, wherever the epoch's buckets fall
START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=DAYS + 1)).replace(hour=0, minute=0, second=0, microsecond=0)
END = START + dt.timedelta(days=DAYS)
# Deletes cutting 16-day buckets, days and hours at both ends, one of them across two 16-day buckets
CUTS = [(START + dt.timedelta(days=20, hours=5, minutes=7), START + dt.timedelta(days=57, hours=2)),
        (START + dt.timedelta(days=3, seconds=13), START + dt.timedelta(days=4, hours=1))]
KEYS = {"rollups": ("series",), "dim_rollups": ("dim", "key"), "state_rollups": ("series", "state")}
FIGURES = {"rollups": ("n", "vn", "vsum", "vmin", "vmax", "last_ts", "last_value"),
           "dim_rollups": ("n", "vn", "vsum", "vmin", "vmax", "last_ts"),
           "state_rollups": ("n", '"left"', "dn", "dsum", "dmin", "dmax", "secs")}
Rows = dict[tuple[Any, ...], tuple[Any, ...]]


def loaded(url: str, history: model.History) -> Iterator[Any]:
    """A store at `url` with the history written batch by batch: shuffled, so late (after their day was compacted)
    and out of order, some twice."""
    store = open_event_store(url)
    for batch in history.batches:
        store.write(batch)
    yield store
    store.close()


def rows(store: Any, table: str, period: int) -> Rows:
    """(keys..., bucket) -> figures of the table's rows of `period`."""
    keys = KEYS[table]
    with store.engine.connect() as conn:
        found = conn.execute(text(f"SELECT {', '.join(keys)}, bucket, {', '.join(FIGURES[table])} FROM {table} "
                                  f"WHERE period = {period}")).all()
    return {tuple(row[:len(keys) + 1]): tuple(row[len(keys) + 1:]) for row in found}


def days_summed(store: Any, table: str) -> Rows:
    """The daily rows summed per (keys..., 16-day bucket), the newest time as µs after that bucket's start."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for (*keys, day), figures in rows(store, table, 2).items():
        key = (*keys, day // ru.DAYS_PER_COARSE)
        if table == "state_rollups":
            ru.merge_state(out.setdefault(key, ru.new_state()), figures)
            continue
        n, vn, vsum, vmin, vmax, last_ts, *last_value = figures
        ru.merge_value(out.setdefault(key, ru.new_value()),
                       (n, vn, vsum, vmin, vmax, day * DAY_US + last_ts, *last_value))
    if table == "state_rollups":
        return {key: tuple(acc) for key, acc in out.items()}
    return {key: (*acc[:5], acc[5] - key[-1] * ru.DAYS_PER_COARSE * DAY_US, *acc[6:len(FIGURES[table])])
            for key, acc in out.items()}


def assert_same_rows(got: Rows, want: Rows, table: str) -> None:
    """Counts, least, greatest, newest time and last value equal; sums to float tolerance."""
    assert got and set(got) == set(want), table
    sums = {"rollups": (2,), "dim_rollups": (2,), "state_rollups": (3, 6)}[table]
    for key, figures in want.items():
        assert [x for i, x in enumerate(got[key]) if i not in sums] == \
            [x for i, x in enumerate(figures) if i not in sums], (table, key)
        assert [got[key][i] for i in sums] == pytest.approx([figures[i] for i in sums], abs=1e-6), (table, key)


def assert_coarse_rows_are_days_summed(store: Any, tables: tuple[str, ...] = tuple(KEYS)) -> None:
    for table in tables:
        assert_same_rows(rows(store, table, ru.COARSE), days_summed(store, table), table)
