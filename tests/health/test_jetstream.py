"""The JetStream view against a real nats-server: stream figures, dead letters read back, nothing left behind."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import streams, subjects
from ingestor.health.jetstream import JetStreamMonitor
from localfaas import ports
from localfaas.natsserver import NatsServer
from tests.support.jetstream import JetStreamClient


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        client = JetStreamClient(server.url)
        asyncio.run_coroutine_threadsafe(streams.ensure_all(client.js), client._loop).result(10)
        client.subscribe_stage("validate", subjects.RAW)  # the queue keeps raw events for it
        for i in range(30):  # dead letters between other traffic, as in the real stream
            client.publish(subjects.RAW, b'{"v": 1}', f"raw-{i}")
            client.publish(subjects.DLQ, f'{{"n": {i}}}'.encode(), f"dlq-{i}")
        client.close()
        yield server.url


@pytest.fixture
def monitor(nats_url: str) -> Iterator[JetStreamMonitor]:
    watching = JetStreamMonitor(nats_url, subjects.STREAM, timeout=5)
    yield watching
    watching.close()


def test_the_queue_figures_and_the_dead_letters_in_their_own_stream_are_counted(monitor: JetStreamMonitor) -> None:
    figures, dead = monitor.run(lambda js: monitor.stream_state(js, subjects.DLQ))
    assert (figures["name"], figures["messages"], figures["first_seq"], figures["last_seq"], dead) == \
        (subjects.STREAM, 30, 1, 30, 30)


@pytest.mark.parametrize("last", [1, 7, 29, 30, 50])
def test_the_last_dead_letters_are_read_oldest_first_however_many_are_held(monitor: JetStreamMonitor,
                                                                         last: int) -> None:
    read = monitor.run(lambda js: monitor.last_messages(js, subjects.DLQ, 30, last)).messages
    assert [m.data for m in read] == [f'{{"n": {i}}}'.encode() for i in range(max(30 - last, 0), 30)]


def test_dead_letters_since_a_time_are_counted_and_read_from_that_time(monitor: JetStreamMonitor) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert monitor.run(lambda js: monitor.count_since(js, subjects.DLQ, past)) == 30
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert monitor.run(lambda js: monitor.count_since(js, subjects.DLQ, future)) == 0
    read = monitor.run(lambda js: monitor.last_messages(js, subjects.DLQ, 30, 50, (past, 30))).messages
    assert len(read) == 30 and read[0].seq == 1


def test_no_consumer_of_its_own_is_left_behind(monitor: JetStreamMonitor) -> None:
    monitor.run(lambda js: monitor.last_messages(js, subjects.DLQ, 30, 5))
    monitor.run(lambda js: monitor.count_since(js, subjects.DLQ, dt.datetime.now(dt.UTC)))
    assert monitor.run(lambda js: js.consumers_info(subjects.DLQ_STREAM)) == []
    assert [c.name for c in monitor.run(lambda js: monitor.consumers(js)) if c.name.startswith("health-")] == []


def test_an_unreachable_server_fails_fast_and_a_later_call_connects_once_it_is_up(tmp_path: Path) -> None:
    reserved = ports.reserve()  # nothing listens on it until our nats-server does
    port = reserved.port
    watching = JetStreamMonitor(f"nats://127.0.0.1:{port}", subjects.STREAM, timeout=2)
    try:
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017 - whatever nats-py raises for a refused connection
            watching.run(lambda js: js.account_info())
        assert time.monotonic() - started < 3 and not watching.is_connected()
        with NatsServer(tmp_path / "late", port=port):
            assert watching.run(lambda js: js.account_info()) is not None
            assert watching.is_connected()
    finally:
        watching.close()
        reserved.release()


def test_a_missing_stream_is_named_as_such(tmp_path: Path) -> None:
    from ingestor.health import probes
    from ingestor.health.settings import Settings

    with NatsServer(tmp_path / "empty") as server:
        settings = Settings(gateway_url=None, bridge_urls=(), nats_url=server.url, store_url="sqlite:///x",
                            metadata_url="sqlite:///y", connector_metrics_url=None)
        deps = probes.Deps(settings)
        try:
            state: dict[str, Any] | Exception
            try:
                state = probes.nats_state(deps)
            except Exception as exc:  # what the runner hands on
                state = exc
            found = probes.nats_component(deps, state)
        finally:
            deps.monitor.close()
    assert found.status == "unhealthy" and found.reasons == [f"stream HA not found on {server.url}"]
