"""A database of the first layout (one wide `events` row per event) moves into the tiered layout in place and
every event comes back identical, record by record and by the archive's per-day hashes; a move killed
midway resumes; nothing reads or writes a half-moved store; rows an old writer adds meanwhile move too."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from ingestor import jsoncodec
from ingestor.archive import digest
from ingestor.store import layout, open_event_store
from ingestor.store.migrate import upgrade
from ingestor.store.model import EventFilter, StoreUnavailable
from ingestor.store.sqlengine import engine_for
from ingestor.store.sqlschema import MIGRATIONS, events, store_state
from ingestor.store.timerange import to_micros
from ingestor.timeutil import parse_timestamp
from tests.store import rollup_model
from tests.support.runtime import REPO

pytestmark = pytest.mark.integration
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
PLAIN = ("event_id", "event_type", "origin", "entity_id", "domain", "state", "old_state", "state_value", "unit",
         "device_class", "friendly_name", "duration_in_state", "device_id", "area_id", "device_manufacturer",
         "device_model")
RECORD_KEYS = {*PLAIN, "attributes", "weather", "data", "time_fired", "context"}


def first_layout_row(record: dict[str, Any]) -> dict[str, Any]:
    """The row the first layout's store wrote for a record."""
    row = {name: record.get(name) for name in PLAIN}
    for name in ("attributes", "weather", "data"):
        row[name] = None if record.get(name) is None else jsoncodec.dumps(record[name]).decode()
    context = record.get("context") or {}
    row.update(ts=to_micros(parse_timestamp(record["time_fired"])), context_id=context.get("id"),
               context_parent_id=context.get("parent_id"), context_user_id=context.get("user_id"))
    extra = {k: v for k, v in record.items() if k not in RECORD_KEYS}
    row["extra"] = jsoncodec.dumps(extra).decode() if extra else None
    return row


def enriched(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as the pipeline makes them: weather and air quality attached, each with its age."""
    out = []
    for i, r in enumerate(records):
        weather = {"temperature": 3.5 + i // 50, "humidity": 80.0, "pressure": 1012.0, "condition": "rain",
                   "wind_speed": 4.2, "fetched_at": "2026-10-01T00:00:00Z", "age_s": round(i * 0.7, 1),
                   "stale": False, "provider": "open-meteo"}
        out.append({**r, "weather": weather, "air_quality": {"aqi": 20 + i // 100, "age_s": i, "stale": False}})
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[dict[str, Any]]]:
    """A first-layout database holding 3 days of a home (some events carrying their enrichment)."""
    url = f"sqlite:///{tmp_path}/old.db" if request.param == "sqlite" else \
        request.getfixturevalue("postgres").new_database()
    records = rollup_model.home(seed=7, start=START, hours=72, events=1500).records
    records = enriched(records[:600]) + records[600:]
    engine = engine_for(url)
    upgrade(engine, MIGRATIONS[:3])
    with engine.begin() as conn:
        conn.execute(insert(events), [first_layout_row(r) for r in records])
    engine.dispose()
    return url, records


def first_layout_export(url: str) -> list[dict[str, Any]]:
    engine = engine_for(url)
    with engine.connect() as conn:
        rows = list(conn.execute(select(events).order_by(events.c.ts, events.c.event_id)))
    engine.dispose()
    return [layout.old_record(r) for r in rows]


def day_hashes(records: list[dict[str, Any]]) -> dict[str, str]:
    """The archive's content hash of each day (sha256 over the records as NDJSON lines, key order kept)."""
    days: dict[str, digest.Digest] = defaultdict(digest.Digest)
    for r in sorted(records, key=lambda r: (r["time_fired"], r["event_id"])):
        days[r["time_fired"][:10]].add(r, digest.line(r))
    return {day: found.sha256 for day, found in days.items()}


def exported(store: Any) -> list[dict[str, Any]]:
    return [r for batch in store.export(START - dt.timedelta(days=1), START + dt.timedelta(days=5)) for r in batch]


def wait_moved(store: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            store.count(EventFilter())
            return
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_first_layout_database_moves_in_place_and_exports_the_same(old_db: tuple[str, list]) -> None:
    url, records = old_db
    before = first_layout_export(url)
    assert len(before) == len(records)
    store = open_event_store(url)
    with pytest.raises(StoreUnavailable, match="moving events to the tiered layout: 1,500 left"):
        store.count(EventFilter())
    wait_moved(store)
    after = exported(store)
    assert after == before  # record by record, in export order
    assert [list(r) for r in after] == [list(r) for r in before]  # and key by key, in order
    assert day_hashes(after) == day_hashes(before)
    assert store.count(EventFilter()) == len(records)
    engine = engine_for(url)
    with engine.connect() as conn:
        from sqlalchemy import inspect

        assert not inspect(conn).has_table("events")
    store.close()


MOVER = """
import sys
sys.path[:0] = [{paths}]
from ingestor.store import layout, open_event_store
store = open_event_store({url!r})
from ingestor.store.migrate import upgrade
from ingestor.store.sqlschema import MIGRATIONS
upgrade(store.engine, MIGRATIONS)
assert layout.claim(store)
print("claimed", flush=True)
layout.move(store, batch=50)
"""


def test_a_killed_move_resumes_and_loses_or_doubles_nothing(old_db: tuple[str, list],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url, records = old_db
    before = first_layout_export(url)
    paths = ", ".join(repr(str(REPO / p)) for p in ("functions/common", "infra/local", ""))
    child = subprocess.Popen([sys.executable, "-c", MOVER.format(paths=paths, url=url)], stdout=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": ""})
    assert child.stdout is not None and child.stdout.readline().strip() == b"claimed"
    engine = engine_for(url)

    def left() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar() or 0)

    deadline = time.monotonic() + 60
    while left() > len(records) - 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    stopped_at = left()
    assert 0 < stopped_at < len(records)  # killed midway
    store = open_event_store(url)
    with pytest.raises(StoreUnavailable, match="moving events"):  # its lease is still fresh
        store.write(records[:1])
    monkeypatch.setattr(layout, "LEASE_S", 0)  # the killed mover's lease has lapsed
    with engine.begin() as conn:  # meanwhile a writer of the previous version adds rows, old and new
        conn.execute(insert(events), [first_layout_row(r) for r in late_records()])
    wait_moved(store)
    after = exported(store)
    late = late_records()
    assert after == sorted(before + late, key=lambda r: (r["time_fired"], r["event_id"]))
    assert store.count(EventFilter()) == len(records) + len(late)
    store.close()
    engine.dispose()


def test_the_move_is_not_stopped_by_the_compaction_it_runs_between_batches(old_db: tuple[str, list]) -> None:
    url, records = old_db
    store = open_event_store(url)
    upgrade(store.engine, MIGRATIONS)
    assert layout.claim(store)
    assert layout.move(store, batch=50) == len(records)  # every batch in one call, as the mover thread runs it
    store.close()


def test_a_store_that_finds_the_old_table_just_before_a_mover_drops_it_answers(
        old_db: tuple[str, list], monkeypatch: pytest.MonkeyPatch) -> None:
    url, records = old_db
    mover = open_event_store(url)
    upgrade(mover.engine, MIGRATIONS)
    assert layout.claim(mover) and layout.move(mover) == len(records)  # done: the old table dropped
    with mover.engine.begin() as conn:  # as seen by a store that looked just before the drop
        conn.execute(update(store_state).where(store_state.c.name == layout.NAME).values(value="moving"))
    looks = iter([True])
    monkeypatch.setattr(layout, "_has_old_table", lambda conn: next(looks, False))
    store = open_event_store(url)
    assert store.count(EventFilter()) == len(records)
    store.close()
    mover.close()


def late_records() -> list[dict[str, Any]]:
    return rollup_model.home(seed=8, start=START, hours=72, events=40).records


def test_the_move_can_be_run_in_the_foreground_and_then_the_store_opens_at_once(old_db: tuple[str, list]) -> None:
    url, records = old_db
    before = first_layout_export(url)
    done = subprocess.run([sys.executable, "-m", "ingestor.store", "move", url], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "functions" / "common")}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(f"{len(records):,} events moved")
    store = open_event_store(url)
    assert exported(store) == before  # no StoreUnavailable first: nothing is left to move
    store.close()
