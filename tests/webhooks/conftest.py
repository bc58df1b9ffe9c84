"""The metadata DB the webhooks tests run on (SQLite and PostgreSQL alike), and a real nats-server for dead letters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestor import streams
from ingestor.bus import Bus
from localfaas.natsserver import NatsServer
from tests.support.jetstream import JetStreamClient


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/metadata.db"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(Path(tmp_path_factory.mktemp("nats"))) as server:
        yield server


@pytest.fixture(scope="module")
def nats(nats_server: NatsServer) -> Iterator[Bus]:
    """A bus to the module's nats-server with the HA stream, where dead letters land (ha.events.dlq)."""
    client = Bus(nats_server.url)
    client.call(lambda js: streams.ensure(js, streams.ha_stream()))
    yield client
    client.close()


@pytest.fixture(scope="module")
def js(nats_server: NatsServer, nats: Bus) -> Iterator[JetStreamClient]:
    client = JetStreamClient(nats_server.url)
    yield client
    client.close()
