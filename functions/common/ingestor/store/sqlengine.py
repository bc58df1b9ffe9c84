"""SQLAlchemy engines for the SQL stores: SQLite tuned for concurrent functions, PostgreSQL via psycopg 3."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

SQLITE_BEGIN = "sqlite_begin"
"""An execution option: the statement that opens a SQLite transaction. "BEGIN IMMEDIATE" takes the write
lock first, waiting for it (busy_timeout); a plain BEGIN that reads and then writes while another process
has written meanwhile fails at once with "database is locked", whatever the timeout."""

WAL_CHECKPOINT_PAGES = 10_000
"""The WAL is copied into the database after this many pages (SQLite's default: 1,000). A batch of `write`
dirties pages all over the hot tier's indexes (each series' end of the (series, time) index) and the rollups,
and at the default a checkpoint ran every few batches, writing the same pages again each time; less often,
each page is copied once for many batches.
What a commit guarantees does not change (a checkpoint only moves committed pages); the WAL file grows to
about 40 MB, and SQLite reuses it from the start after each checkpoint."""
WRITE_CACHE_KIB = 65_536
"""A writing connection's page cache (SQLite's default: 2 MB): with 2 MB the pages each batch touches (see
above) were read again from the file for every batch. Only the writer's connections take it, and only as far
as pages are used; a process that writes seldom and must stay small (retention-archive) asks for less."""


def engine_for(url: str, *, write_cache_kib: int = WRITE_CACHE_KIB) -> Engine:
    """An engine for `sqlite:///path` or `postgresql://…` (psycopg 3 is used whatever the driver);
    `write_cache_kib`: a SQLite writing connection's page cache."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(parsed, write_cache_kib)
    if parsed.get_backend_name() == "postgresql":
        # prepare_threshold None: no statement is prepared on the server, so each is planned with its own values.
        # psycopg prepares a statement run five times, and PostgreSQL then may keep a generic plan: a page of an
        # area and a domain (the hot tier's `ts` range and six series) walked the time index backward, 8 -> 75 ms.
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True, pool_size=5,
                             max_overflow=5, pool_recycle=1800,
                             connect_args={"connect_timeout": 5, "prepare_threshold": None})
    raise ValueError(f"unsupported SQL database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")


def _sqlite(url: URL, write_cache_kib: int) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        # The driver's own transaction handling skips DDL; SQLAlchemy emits BEGIN instead (below), so a
        # migration step and its version row commit together.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        _wal(cursor)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON", f"wal_autocheckpoint={WAL_CHECKPOINT_PAGES}"):
            cursor.execute(f"PRAGMA {pragma}")  # NORMAL is durable across crashes in WAL
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer takes the write lock at BEGIN (IMMEDIATE): one that read first and then tried to
        # write could fail with "database is locked" instead of waiting its turn (SQLITE_BEGIN above).
        options = conn.get_execution_options()
        if options.get("writing") and not conn.info.get("write_cache"):
            conn.exec_driver_sql(f"PRAGMA cache_size=-{int(write_cache_kib)}")
            conn.info["write_cache"] = True
        conn.exec_driver_sql(options.get(SQLITE_BEGIN) or ("BEGIN IMMEDIATE" if options.get("writing") else "BEGIN"))

    return engine


def _wal(cursor: Any, attempts: int = 100) -> None:
    """WAL, so the query functions read while `write` writes. Switching a new database to it needs the file to
    itself, and SQLite answers "database is locked" at once (busy_timeout does not apply): when the functions
    start together on a fresh install, all but one meet that, so each tries again until the file is in WAL."""
    for attempt in range(attempts):
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def safe_url(url: str) -> str:
    """The URL with any password hidden, for logs and health."""
    return make_url(url).render_as_string(hide_password=True)
