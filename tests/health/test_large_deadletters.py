"""Dead letters totalling more than nats-server lets a connection fall behind by (64 MiB, then it is cut as a
slow consumer), on a real nats-server: health reads the newest within its byte bound, on a connection that
stays up, and while they are fresh the system is degraded naming them, never ok."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import jsoncodec, streams, subjects
from ingestor.health.jetstream import JetStreamMonitor
from ingestor.health.settings import Settings
from ingestor.health.system import HealthSystem
from localfaas.natsserver import NatsServer
from tests.support.jetstream import JetStreamClient

RECORDS, RECORD_BYTES = 40, 2_000_000  # 80 MB: more than the server's 64 MiB max_pending, in 0.3 s of publishing
BOUND = 16 * 1024 * 1024
REASON = "data.entity_id: 'light.x y' is not a valid entity id"


def record(n: int) -> bytes:
    """A stage's dead letter holding one huge rejected event, as ingestor.dlq writes them."""
    return jsoncodec.dumps({"stage": "validate", "subject": subjects.RAW, "entries": [
        {"index": 0, "reason": REASON, "payload": {"n": n, "attributes": "x" * RECORD_BYTES}}]})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(tmp_path_factory.mktemp("nats-big-dlq")) as running:
        client = JetStreamClient(running.url)
        asyncio.run_coroutine_threadsafe(streams.ensure_all(client.js), client._loop).result(10)
        for n in range(RECORDS):  # between other traffic, as in the real stream
            client.publish(subjects.RAW, b'{"v": 1}', f"raw-{n}")
            client.publish(subjects.DLQ, record(n), f"dlq-{n}")
        client.close()
        yield running


def slow_consumer_cuts(server: NatsServer) -> list[str]:
    return [line for line in (server.store_dir / "nats-server.log").read_text().splitlines() if "Slow Consumer" in line]


def test_the_newest_records_within_the_byte_bound_are_read_on_a_connection_that_stays_up(server: NatsServer) -> None:
    monitor = JetStreamMonitor(server.url, subjects.STREAM, timeout=5)
    try:
        read = monitor.run(lambda js: monitor.last_messages(js, subjects.DLQ, RECORDS, 1000, max_bytes=BOUND), 30)
        numbers = [jsoncodec.loads(m.data)["entries"][0]["payload"]["n"] for m in read.messages]
        assert read.limited and numbers == list(range(RECORDS - len(numbers), RECORDS)) and len(numbers) >= 7
        assert sum(len(m.data) for m in read.messages) <= BOUND
        assert monitor.is_connected() and slow_consumer_cuts(server) == []
        assert monitor.run(lambda js: js.consumers_info(subjects.DLQ_STREAM)) == []  # its readers are gone
    finally:
        monitor.close()


@pytest.fixture
def system(server: NatsServer, tmp_path: Path) -> Iterator[HealthSystem]:
    settings = Settings(gateway_url=None, bridge_urls=(), nats_url=server.url,
                        store_url=f"sqlite:///{tmp_path}/events.db", metadata_url=f"sqlite:///{tmp_path}/meta.db",
                        connector_metrics_url=None, cache_s=0)
    found = HealthSystem(settings)
    yield found
    found.deps.monitor.close()


def component(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in status["components"] if c["name"] == name)


def test_fresh_dead_letters_too_large_to_read_at_once_degrade_the_system_naming_their_reason(
        system: HealthSystem, server: NatsServer) -> None:
    status = system.status()
    dead = component(status, "dlq")
    assert status["status"] == "degraded" and dead["status"] == "degraded", dead
    assert dead["reasons"][0].startswith(f"{RECORDS} dead letters in the last hour: validate: data.entity_id: ")
    assert slow_consumer_cuts(server) == []


def test_the_pipeline_view_counts_them_all_and_says_its_scan_was_limited(system: HealthSystem) -> None:
    found = system.pipeline()
    assert found["dlq"]["total"] == found["dlq"]["in_window"] == RECORDS
    assert found["dlq"]["limited"] is True and 7 <= found["dlq"]["scanned"] < RECORDS
    assert found["dlq"]["recent"][0]["reason"] == REASON
    assert not any("dead" in p for p in found["problems"]), found["problems"]
