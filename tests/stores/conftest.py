"""One real server of each kind per session; every test gets a database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestor.store import open_event_store
from tests.support.servers import InfluxDB1Server, PostgresServer

BACKENDS = ["sqlite", "postgresql", "influxdb1"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def influxdb() -> Iterator[InfluxDB1Server]:
    server = InfluxDB1Server().start()
    yield server
    server.cleanup()


def new_pg_database(server: PostgresServer) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:{server.port}/{name}"


def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    if backend == "postgresql":
        return new_pg_database(request.getfixturevalue("postgres"))
    return request.getfixturevalue("influxdb").url(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = open_event_store(store_url(request.param, tmp_path, request))
    yield event_store
    event_store.close()
