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


def engine_for(url: str) -> Engine:
    """An engine for `sqlite:///path` or `postgresql://…` (psycopg 3 is used whatever the driver)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(parsed)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True, pool_size=5,
                             max_overflow=5, pool_recycle=1800, connect_args={"connect_timeout": 5})
    raise ValueError(f"unsupported SQL database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")


def _sqlite(url: URL) -> Engine:
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
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):  # NORMAL is durable across crashes in WAL
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer takes the write lock at BEGIN (IMMEDIATE): one that read first and then tried to
        # write could fail with "database is locked" instead of waiting its turn (SQLITE_BEGIN above).
        options = conn.get_execution_options()
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
