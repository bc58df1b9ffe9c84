"""The metadata DB the webhooks tests run on (SQLite and PostgreSQL alike), a real nats-server for dead letters,
and a dispatcher on the compressed clock (tests.webhooks.sweeping.FAST) whose sweeper the tests run by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestor import streams
from ingestor.bus import Bus
from ingestor.webhooks.dispatch import Dispatcher
from ingestor.webhooks.store import WebhookStore
from localfaas.natsserver import NatsServer
from tests.support.jetstream import JetStreamClient
from tests.webhooks.sweeping import FAST, running


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
    client.call(streams.ensure_all)
    yield client
    client.close()


@pytest.fixture(scope="module")
def js(nats_server: NatsServer, nats: Bus) -> Iterator[JetStreamClient]:
    client = JetStreamClient(nats_server.url)
    yield client
    client.close()


@pytest.fixture
def store(db_url: str) -> WebhookStore:
    return WebhookStore(db_url)


@pytest.fixture
def dispatcher(store: WebhookStore, nats: Bus) -> Iterator[Dispatcher]:
    with running(store, FAST, nats) as found:
        yield found
