"""The metadata DB's transactions, for the parts that keep their own tables there (webhooks, alerts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ingestor.metadata.schema import MIGRATIONS
from ingestor.store.migrate import upgrade
from ingestor.store.model import StoreError, StoreUnavailable
from ingestor.store.sqlengine import SQLITE_BEGIN, engine_for


class MetadataDatabase:
    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)
        self._ready = False

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """A transaction (`write`: one that changes rows, so on SQLite it takes the write lock first, and
        writers in several processes wait their turn); the first one migrates the database. A database that
        cannot be reached is StoreUnavailable (503, retry later)."""
        try:
            if not self._ready:
                with self.engine.connect():  # fail fast when unreachable (upgrade retries for seconds)
                    pass
                upgrade(self.engine, MIGRATIONS)
                self._ready = True
            with self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(**{SQLITE_BEGIN: "BEGIN IMMEDIATE"})
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise StoreUnavailable(f"metadata DB unavailable: {type(exc.orig).__name__}") from exc
        except DBAPIError as exc:
            raise StoreError(f"metadata DB refused the operation: {type(exc.orig).__name__}") from exc
