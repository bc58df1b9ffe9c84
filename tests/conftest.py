"""Shared fixtures: one local runtime (real nats-server, real function processes) per test module, and one
PostgreSQL and one InfluxDB 1.x server per session, on which each test makes its own database."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests.support.jetstream import JetStreamClient
from tests.support.runtime import LocalRuntime
from tests.support.servers import InfluxDB1Server, PostgresServer


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped with SIGTERM (a CI job's timeout, `kill`) ends as Ctrl-C does: the fixtures are torn down, so
    the PostgreSQL, InfluxDB, NATS and function processes they started are stopped instead of left running."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    workdir: Path = tmp_path_factory.mktemp("runtime")
    env = {"TEST_ATTEMPTS_FILE": str(workdir / "attempts"), "TEST_PROBE_FILE": str(workdir / "cron-probe")}
    with LocalRuntime(workdir, env=env) as rt:
        yield rt


@pytest.fixture(scope="module")
def js(runtime: LocalRuntime) -> Iterator[JetStreamClient]:
    client = JetStreamClient(runtime.nats_url)
    yield client
    client.close()


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
