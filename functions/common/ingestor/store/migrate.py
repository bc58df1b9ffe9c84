"""Versioned schema migrations for the SQL databases, so upgrades keep users' data.

Each database keeps `schema_version(version)`; migrations are numbered steps applied in order, each
in its own transaction, and never edited once released: a change to the schema is a new step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def current_version(conn: Connection) -> int:
    conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
    found = conn.execute(text("SELECT max(version) FROM schema_version")).scalar()
    return int(found or 0)


def upgrade(engine: Engine, migrations: Sequence[Migration]) -> int:
    """Apply every migration newer than the database; returns the version reached."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError("migrations must have unique, increasing versions")
    for migration in migrations:
        _apply(engine, migration)
    with engine.connect() as conn:
        return current_version(conn)


def _apply(engine: Engine, migration: Migration, attempts: int = 20) -> None:
    """Apply one step in one transaction. Functions start together, so another process may be
    applying the same step: its lock or its finished work makes ours fail, and we look again."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":  # one migrating process at a time, until commit
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('ha-ingestor-schema'))"))
                if current_version(conn) < migration.version:
                    migration.apply(conn)
                    conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": migration.version})
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 + 0.05 * attempt)
