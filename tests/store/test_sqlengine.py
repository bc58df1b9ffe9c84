"""SQL engines: a fresh SQLite file opened by several processes at once, as the functions do on a first start; the
settings `write` depends on; PostgreSQL statements planned with their own values."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from ingestor.store.sqlengine import SQLITE_BEGIN, engine_for
from tests.support.servers import PostgresServer


def test_engines_opening_a_new_database_at_once_all_connect_and_it_is_in_wal(tmp_path: Path) -> None:
    """Switching a new file to WAL answered "database is locked" at once to all but one opener (about 1 open in
    100 here; the metadata DB's first start under `make run` and tests/webhooks/test_ids.py met it)."""
    failed: list[BaseException] = []
    for run in range(100):
        url = f"sqlite:///{tmp_path}/fresh-{run}.db"
        engines = [engine_for(url) for _ in range(6)]
        start = threading.Barrier(len(engines))

        def open_(engine: object, start: threading.Barrier) -> None:
            start.wait()
            try:
                with engine.connect() as conn:  # type: ignore[attr-defined]
                    assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            except BaseException as exc:  # noqa: BLE001 - reported below
                failed.append(exc)

        threads = [threading.Thread(target=open_, args=(e, start)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for engine in engines:
            engine.dispose()
    assert not failed, failed[:3]


def test_a_writing_connection_keeps_64_mb_of_pages_and_the_wal_is_checkpointed_every_10000_pages(
        tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path}/store.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 10_000
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -2000  # a reader's: SQLite's default
    with engine.connect().execution_options(writing=True) as conn, conn.begin():
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -65_536
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 10_000
    with engine.connect().execution_options(writing=True, **{SQLITE_BEGIN: "BEGIN"}) as conn, conn.begin():
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -65_536
    engine.dispose()


def test_a_process_may_ask_for_a_smaller_cache_for_its_writing_connections(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path}/store.db", write_cache_kib=2_000)
    with engine.connect().execution_options(writing=True) as conn, conn.begin():
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -2_000
    engine.dispose()


def test_a_postgresql_statement_run_again_and_again_is_never_prepared(postgres: PostgresServer) -> None:
    """A prepared statement may be planned once for any values (PostgreSQL's generic plan): a page of one area and
    one domain, its six series' hot events, walked the time index backward in 75 ms where its own plan took 8."""
    engine = engine_for(postgres.new_database())
    try:
        with engine.connect() as conn:
            for n in range(10):
                conn.execute(text("SELECT :n + 1"), {"n": n})
            assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() == 0
    finally:
        engine.dispose()
