"""A store outage through the real runtime, shared by its test and bench/store_outage_recovery.py.

stack.yml's own `write` (its annotations: timeout, max-deliver, concurrency, backoff) runs twice, as
`write-pg` on a PostgreSQL server of its own and `write-sqlite` on a SQLite file; both outages happen at
the same time: PostgreSQL is stopped, and the SQLite file is locked by another process (BEGIN EXCLUSIVE,
as a backup or a sqlite3 shell left in a transaction does). Events are published to ha.events.enriched at
a steady rate throughout; each store's row count is sampled every 0.1 s.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

from ingestor import normalization, subjects
from tests.support.ha_events import many
from tests.support.jetstream import JetStreamClient
from tests.support.runtime import LocalRuntime, stack_of
from tests.support.servers import PostgresServer

BEFORE_S, AFTER_S, BATCH = 5, 10, 10
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
    written: int = 0  # events in the store at the end

    def resumed_after(self) -> float | None:
        """Seconds from the database answering to the first event written after it (None: never)."""
        assert self.back_at is not None
        before = max((c for t, c in self.samples if t <= self.back_at), default=0)
        return next((t - self.back_at for t, c in self.samples if t > self.back_at and c > before), None)

    def caught_up_after(self, published: int) -> float | None:
        """Seconds from the database answering to every published event written (None: never)."""
        assert self.back_at is not None
        return next((t - self.back_at for t, c in self.samples if t > self.back_at and c >= published), None)


@dataclass
class Outage:
    seconds: float
    stores: dict[str, Store]
    published: int
    log: str


def two_writers(path: Path, pg_url: str, sqlite_url: str) -> Path:
    """stack.yml's write function, twice: on PostgreSQL and on SQLite."""
    stack = yaml.safe_load(stack_of(path, ("write",)).read_text())
    write = stack["functions"].pop("write")
    for name, url in (("write-pg", pg_url), ("write-sqlite", sqlite_url)):
        stack["functions"][name] = {**write, "environment": {**write["environment"], "EVENT_STORE_URL": url}}
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    return path


# Events written: the rows of the hot tier, since these stores are fresh and nothing is compacted out of it during
# a run; read straight from the database, so a store that is down or locked counts as -1 at once.
COUNT = "SELECT count(*) FROM hot_events"


def count_pg(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=1) as conn:
            row = conn.execute(COUNT).fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return -1


def count_sqlite(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute(COUNT).fetchone()[0])
    except sqlite3.Error:
        return -1


def run(workdir: Path, outage_s: float, rate: int, catch_up_s: float = 90) -> Outage:
    """Both stores away for `outage_s` while `rate` events a second are published; until every event is
    written (or `catch_up_s` more seconds)."""
    server = PostgresServer().start()
    pg_url, db_file = server.new_database(), workdir / "events.db"
    stores = {"write-pg": Store("write-pg", lambda: count_pg(pg_url)),
              "write-sqlite": Store("write-sqlite", lambda: count_sqlite(db_file))}
    records = [normalization.normalize_event(e) for e in many(int(rate * (BEFORE_S + outage_s + AFTER_S)))]
    stop = threading.Event()

    def publish(js: JetStreamClient, started: float) -> None:
        for n, first in enumerate(range(0, len(records), BATCH)):
            js.publish_batch(subjects.ENRICHED, f"outage-{n}", records[first:first + BATCH])
            time.sleep(max(0.0, started + (first + BATCH) / rate - time.monotonic()))

    def watch() -> None:
        while not stop.is_set():
            for store in stores.values():
                store.samples.append((time.monotonic(), store.count()))
            time.sleep(0.1)

    runtime = LocalRuntime(workdir, stack=two_writers(workdir / "stack.yml", pg_url, f"sqlite:///{db_file}"))
    try:
        runtime.start(timeout=120)
        js = JetStreamClient(runtime.nats_url)
        publisher = threading.Thread(target=publish, args=(js, time.monotonic()))
        watcher = threading.Thread(target=watch)
        publisher.start()
        watcher.start()
        time.sleep(BEFORE_S)
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db_file), str(outage_s)],
                                  stdout=subprocess.PIPE, text=True)
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        server.stop()
        time.sleep(outage_s)
        server.start()
        stores["write-pg"].back_at = time.monotonic()
        locker.wait(30)
        stores["write-sqlite"].back_at = time.monotonic()
        publisher.join()
        deadline = time.monotonic() + catch_up_s
        while any(s.count() < len(records) for s in stores.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        watcher.join()
        for store in stores.values():
            store.written = store.count()
        js.close()
        runtime.stop()
        return Outage(outage_s, stores, len(records), runtime.log.read_text())
    finally:
        stop.set()
        runtime.stop()
        server.cleanup()
