"""Schema step 8's fill of the meters' rises in a database made before they were kept: opening the store does
not wait for it, it is carried on a day of a meter at a time after writes, and it ends exact whatever is
written meanwhile or wherever it was stopped."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingestor.store import open_event_store, sqlrise
from ingestor.store.migrate import upgrade
from ingestor.store.model import EventFilter
from ingestor.store.sqlengine import engine_for
from ingestor.store.sqlschema import MIGRATIONS
from tests.store import rollup_model as model
from tests.support.runtime import REPO

START = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
HOURS = 76  # four UTC days, the last one partly
OTHER = "sensor.energy_two"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/m.db"
    return request.getfixturevalue("postgres").new_database()


def _other(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "entity_id": OTHER, "event_id": r["event_id"][:-4] + "beef"} for r in records]


def _made_before_rises(url: str, batches: list[list[dict[str, Any]]]) -> None:
    """A database as schema step 7 left it (no rise column), then upgraded: a fill to do."""
    store = open_event_store(url)
    for batch in batches:
        store.write(batch)
    store.close()
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE rollups DROP COLUMN rise"))
        conn.execute(text("DELETE FROM store_state WHERE name = 'rise_fill'"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 8"))  # steps after 8 leave it as it is
    upgrade(engine, MIGRATIONS)
    engine.dispose()


def _fill_state(url: str) -> str | None:
    engine = engine_for(url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT value FROM store_state WHERE name = 'rise_fill'")).scalar()
    engine.dispose()
    return found


def _finished_exact(store: Any, records: list[dict[str, Any]], hours: int = HOURS) -> None:
    """Carry the fill on to its end, then check every hour's rise of both meters against their readings."""
    while not store.fill_rises(0.0):
        pass
    _assert_exact(store, records, hours)
    store.close()


def _assert_exact(store: Any, records: list[dict[str, Any]], hours: int = HOURS) -> None:
    expected = model.rises(records, 3600)
    end = START + dt.timedelta(hours=hours)
    for entity_id in (model.METER, OTHER):
        hours = store.meter_rises([entity_id], START, end)[entity_id]
        assert hours.start == sorted(expected), entity_id
        assert hours.energy == pytest.approx([expected[h] for h in hours.start], abs=1e-9), entity_id


def test_opening_a_store_with_a_fill_to_do_leaves_it_to_the_writes_after_which_the_rises_are_exact(url: str) -> None:
    history = model.meter(seed=8, start=START, hours=HOURS, readings=500)
    _made_before_rises(url, [*history.batches, _other(history.records)])
    store = open_event_store(url)
    assert store.count(EventFilter()) == 2 * len({r["event_id"] for r in history.records})
    assert _fill_state(url) == "0", "opening and reading the store filled nothing"
    assert store.meter_rises([model.METER], START, START + dt.timedelta(hours=HOURS)) is None  # min/max meanwhile
    store.write([{**history.records[0], "entity_id": "sensor.other", "unit": None, "event_id": "f" * 32}])
    assert _fill_state(url) != "0", "a write carries the fill on"
    while not store.fill_rises(0.0):
        pass
    assert _fill_state(url) == "done"
    _assert_exact(store, history.records)
    store.close()


def test_readings_written_into_a_meter_half_filled_end_exact(url: str) -> None:
    history = model.meter(seed=9, start=START, hours=HOURS, readings=500)
    late = history.records[::4]  # in every day, dips and new cycles among them
    kept = [r for r in history.records if r not in late]
    _made_before_rises(url, [kept, _other(history.records)])
    store = open_event_store(url)
    store.fill_rises(0.0)
    store.fill_rises(0.0)  # the first meter's first two days
    assert _fill_state(url).endswith(f":{int(START.timestamp()) // 86_400 + 1}")
    for i in range(0, len(late), 20):
        store.write(late[i:i + 20])  # each write carries the fill on by a day too
    _finished_exact(store, history.records)


def test_a_fill_killed_in_a_day_s_transaction_carries_on_from_the_last_day_committed(url: str) -> None:
    history = model.meter(seed=10, start=START, hours=HOURS, readings=500)
    _made_before_rises(url, [*history.batches, _other(history.records)])
    store = open_event_store(url)

    class Killed(Exception):
        pass

    steps: list[int] = []

    @contextmanager
    def killed_in_the_third() -> Iterator[Any]:
        steps.append(1)
        with store.writing() as conn:
            yield conn
            if len(steps) == 3:
                raise Killed  # the day's rises are worked out, not committed

    with pytest.raises(Killed):
        sqlrise.fill(killed_in_the_third, store.dicts, store.backend, float("inf"))
    state = _fill_state(url)
    assert state is not None and state.endswith(f":{int(START.timestamp()) // 86_400 + 1}")
    store.close()
    store = open_event_store(url)  # another process carries on
    _finished_exact(store, history.records)


def test_processes_filling_at_once_end_exact(url: str) -> None:
    history = model.meter(seed=11, start=START, hours=HOURS, readings=500)
    _made_before_rises(url, [*history.batches, _other(history.records)])
    stores = [open_event_store(url) for _ in range(3)]  # the write function's replicas, each filling after writes
    failures: list[BaseException] = []

    def carry_on(store: Any) -> None:
        try:
            while not store.fill_rises(0.0):
                pass
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=carry_on, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _fill_state(url) == "done"
    _assert_exact(stores[0], history.records)
    for store in stores:
        store.close()


FILLER = """
import sys
sys.path[:0] = [{paths}]
from ingestor.store import open_event_store
store = open_event_store({url!r})
print("open", flush=True)
while not store.fill_rises(0.0):
    pass
print("done", flush=True)
"""


def test_a_process_killed_while_filling_leaves_a_fill_the_next_one_finishes_exact(url: str) -> None:
    hours = 24 * 30  # sixty days of two meters to fill: the kill lands after the first
    history = model.meter(seed=12, start=START, hours=hours, readings=2400)
    _made_before_rises(url, [*history.batches, _other(history.records)])
    paths = ", ".join(repr(str(p)) for p in (REPO / "functions" / "common", REPO / "infra" / "local", REPO))
    child = subprocess.Popen([sys.executable, "-c", FILLER.format(paths=paths, url=url)], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().strip() == b"open"
    state = _fill_state(url)
    while state == "0":  # until its first day is committed, then at once
        time.sleep(0.01)
        state = _fill_state(url)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert _fill_state(url) != "done", "the kill came after the fill"
    store = open_event_store(url)
    _finished_exact(store, history.records, hours)
