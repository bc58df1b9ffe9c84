"""Versioned schema migrations for the SQL databases, so upgrades keep users' data.

Each database keeps `schema_version(version)`; migrations are numbered steps applied in order, each
in its own transaction, and never edited once released: a change to the schema is a new step.
"""

from __future__ import annotations

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
    with engine.begin() as conn:
        version = current_version(conn)
    for migration in migrations:
        if migration.version <= version:
            continue
        try:
            with engine.begin() as conn:
                if current_version(conn) < migration.version:
                    migration.apply(conn)
                    conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": migration.version})
        except DBAPIError:
            # Functions start together: another process may have applied this step meanwhile.
            with engine.begin() as conn:
                if current_version(conn) < migration.version:
                    raise
        version = migration.version
    return version
