"""A 90 s store outage through the real runtime: writing resumes within 5 s of the database answering again,
nothing is lost or written twice, and the outage is logged once when it starts and once when it ends.

stack.yml's own `write` (its annotations: timeout, max-deliver, concurrency, backoff) runs twice, as
`write-pg` on a PostgreSQL server of its own and `write-sqlite` on a SQLite file; both outages happen at
the same time: PostgreSQL is stopped, and the SQLite file is locked by another process (BEGIN EXCLUSIVE,
as a backup or a sqlite3 shell left in a transaction does). Events are published to ha.events.enriched at
20/s throughout. About 2 minutes (the outage is real time: the connector's backoff grows with it).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from ingestor import normalization
from tests.support.ha_events import many
from tests.support.jetstream import JetStreamClient
from tests.support.runtime import LocalRuntime, stack_of
from tests.support.servers import PostgresServer

pytestmark = pytest.mark.integration
OUTAGE_S, BEFORE_S, RATE, BATCH = 90, 5, 20, 10
RESUME_WITHIN_S = 5
OUTAGE_STARTED = "function unavailable or timing out; its messages wait and are retried"
OUTAGE_ENDED = "function answers again"
SEEN_WITHIN_S = 40
"""A stopped PostgreSQL is a 503 at once; a locked SQLite file keeps the write waiting, so its outage is seen
when the first call times out (write's 30 s and the connector's 5 s more)."""
LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@dataclass
class Store:
    name: str
    count: Callable[[], int]
    samples: list[tuple[float, int]] = field(default_factory=list)
    back_at: float | None = None  # when the database answered again

    def resumed_after(self) -> float | None:
        """Seconds from the database answering to the first event written after it (None: never)."""
        assert self.back_at is not None
        before = max((c for t, c in self.samples if t <= self.back_at), default=0)
        return next((t - self.back_at for t, c in self.samples if t > self.back_at and c > before), None)


def two_writers(path: Path, pg_url: str, sqlite_url: str) -> Path:
    """stack.yml's write function, twice: on PostgreSQL and on SQLite."""
    stack = yaml.safe_load(stack_of(path, ("write",)).read_text())
    write = stack["functions"].pop("write")
    for name, url in (("write-pg", pg_url), ("write-sqlite", sqlite_url)):
        stack["functions"][name] = {**write, "environment": {**write["environment"], "EVENT_STORE_URL": url}}
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    return path


def count_pg(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except psycopg.Error:
        return -1


def count_sqlite(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return -1


@dataclass
class Outage:
    stores: dict[str, Store]
    published: int
    log: str


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    workdir = tmp_path_factory.mktemp("store-outage")
    server = PostgresServer().start()
    pg_url, db_file = server.new_database(), workdir / "events.db"
    stores = {"write-pg": Store("write-pg", lambda: count_pg(pg_url)),
              "write-sqlite": Store("write-sqlite", lambda: count_sqlite(db_file))}
    records = [normalization.normalize_event(e) for e in many(RATE * (BEFORE_S + OUTAGE_S + 10))]
    stop = threading.Event()
    started = time.monotonic()

    def publish(js: JetStreamClient) -> None:
        for n, first in enumerate(range(0, len(records), BATCH)):
            js.publish_batch("ha.events.enriched", f"outage-{n}", records[first:first + BATCH])
            time.sleep(max(0.0, started + (first + BATCH) / RATE - time.monotonic()))

    def watch() -> None:
        while not stop.is_set():
            for store in stores.values():
                store.samples.append((time.monotonic(), store.count()))
            time.sleep(0.1)

    runtime = LocalRuntime(workdir, stack=two_writers(workdir / "stack.yml", pg_url, f"sqlite:///{db_file}"))
    try:
        runtime.start(timeout=120)
        js = JetStreamClient(runtime.nats_url)
        publisher = threading.Thread(target=publish, args=(js,))
        watcher = threading.Thread(target=watch)
        publisher.start()
        watcher.start()
        time.sleep(BEFORE_S)
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db_file), str(OUTAGE_S)],
                                  stdout=subprocess.PIPE, text=True)
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        server.stop()
        time.sleep(OUTAGE_S)
        server.start()
        stores["write-pg"].back_at = time.monotonic()
        locker.wait(30)
        stores["write-sqlite"].back_at = time.monotonic()
        publisher.join()
        deadline = time.monotonic() + 90
        while any(s.count() < len(records) for s in stores.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        watcher.join()
        js.close()
        runtime.stop()
        yield Outage(stores, len(records), runtime.log.read_text())
    finally:
        stop.set()
        runtime.stop()
        server.cleanup()


@pytest.mark.parametrize("writer", ["write-pg", "write-sqlite"])
def test_writing_resumes_within_5_s_of_the_database_answering_after_a_90_s_outage(
        outage: Outage, writer: str, record_property: Callable[[str, Any], None]) -> None:
    store = outage.stores[writer]
    resumed = store.resumed_after()
    record_property(f"{writer}_resumed_after_s", resumed)
    print(f"\n{writer}: writing resumed {resumed if resumed is None else round(resumed, 1)} s after the database "
          f"answered again ({OUTAGE_S} s outage)")
    assert resumed is not None and resumed <= RESUME_WITHIN_S


@pytest.mark.parametrize("writer", ["write-pg", "write-sqlite"])
def test_nothing_published_during_the_outage_is_lost_or_written_twice(outage: Outage, writer: str) -> None:
    assert outage.stores[writer].count() == outage.published


@pytest.mark.parametrize("writer", ["write-pg", "write-sqlite"])
def test_the_outage_is_logged_once_when_it_starts_and_once_when_it_ends(outage: Outage, writer: str) -> None:
    connector = [e for e in logged(outage.log) if e.get("logger") == "connector" and e.get("function") == writer]
    assert [e["msg"] for e in connector if e["msg"].startswith("function unavailable")] == [OUTAGE_STARTED], connector
    (ended,) = [e for e in connector if e["msg"] == OUTAGE_ENDED]
    assert OUTAGE_S - SEEN_WITHIN_S <= ended["seconds"] <= OUTAGE_S + RESUME_WITHIN_S and ended["failures"] >= 1


def logged(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
