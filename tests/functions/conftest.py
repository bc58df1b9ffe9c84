"""Each function's handler called in this process, as the template calls it (tests/support/function.py), with a
real nats-server and SQLite stores of its own: one test module per function, like OpenFaaS's handler_test.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localfaas.natsserver import NatsServer
from tests.sports.espn_server import ScoreboardServer
from tests.support.function import fresh_process
from tests.support.jetstream import JetStreamClient


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        client = JetStreamClient(server.url)
        client.ensure_stream()
        client.close()
        yield server.url


@pytest.fixture()
def process(nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The environment a function process gets from stack.yml and the runtime; its data folder."""
    (tmp_path / "secrets").mkdir()
    for name, value in {"NATS_URL": nats_url, "DATA_DIR": str(tmp_path), "SECRETS_DIR": str(tmp_path / "secrets"),
                        "EVENT_STORE_URL": f"sqlite:///{tmp_path}/events.db",
                        "METADATA_DB_URL": f"sqlite:///{tmp_path}/metadata.db", "FUNCTION_NAME": "under-test",
                        "WEBHOOK_SWEEP_S": "0.2", "CONTEXT_SOURCES": "weather"}.items():
        monkeypatch.setenv(name, value)
    for name in ("ARCHIVE_S3_ENDPOINT", "ARCHIVE_S3_BUCKET", "SPORTS_TEAMS", "GATEWAY_URL", "BRIDGE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    fresh_process()


@pytest.fixture()
def espn_server() -> Iterator[ScoreboardServer]:
    server = ScoreboardServer()
    yield server
    server.close()


@pytest.fixture()
def stream(nats_url: str) -> Iterator[JetStreamClient]:
    client = JetStreamClient(nats_url)
    yield client
    client.close()
