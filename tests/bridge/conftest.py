"""Fixtures for the bridge: one real Home Assistant per session, a fresh nats-server and bridge per test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localfaas.natsserver import NatsServer
from tests.bridge.bridgeproc import BridgeFactory, BridgeProcess
from tests.bridge.streamreader import StreamReader
from tests.support.homeassistant import HomeAssistant, ensure_venv
from tests.support.jetstream import queue_with_validate


@pytest.fixture(scope="session")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    """A real HA 2024.3.3: the sample entities, the default areas plus Office, and one device (uptime)."""
    _, install_s = ensure_venv()
    started = time.monotonic()
    instance = HomeAssistant(tmp_path_factory.mktemp("homeassistant") / "config").start()
    try:
        instance.add_uptime_device()
        instance.ws(("config/area_registry/create", {"name": "Office", "aliases": ["Study"], "icon": "mdi:desk"}),
                    ("config/entity_registry/update",
                     {"entity_id": "input_boolean.living_room_light", "area_id": "living_room"}),
                    ("config/entity_registry/update",
                     {"entity_id": "sensor.living_room_temperature", "area_id": "living_room"}))
        print(f"\nHome Assistant: venv ready in {install_s:.1f}s, started in {time.monotonic() - started:.1f}s "
              f"on port {instance.port}")
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server with the queue and validate's consumer, as the topic connector makes it (the bridge holds raw
    events while nothing reads them)."""
    server = NatsServer(tmp_path / "nats").start()
    queue_with_validate(server.url)
    yield server
    server.stop()


@pytest.fixture
def stream(nats_server: NatsServer) -> Iterator[StreamReader]:
    reader = StreamReader(nats_server.url)
    yield reader
    reader.close()



@pytest.fixture
def make_bridge(tmp_path: Path, request: pytest.FixtureRequest, nats_server: NatsServer) -> Iterator[BridgeFactory]:
    """Start bridges against this test's NATS and, unless told otherwise, the session's real HA."""
    bridges: list[BridgeProcess] = []

    def make(ha_url: str | None = None, token: str | None = "<ha>", name: str = "bridge",
             env: dict[str, str] | None = None, start: bool = True) -> BridgeProcess:
        if ha_url is None or token == "<ha>":
            ha: HomeAssistant = request.getfixturevalue("ha")
            ha_url, token = ha_url or ha.url, ha.token if token == "<ha>" else token
        bridge = BridgeProcess(tmp_path / name, ha_url, nats_server.url, token, env)
        bridges.append(bridge)
        return bridge.start() if start else bridge

    yield make
    for bridge in bridges:
        bridge.stop()


@pytest.fixture
def bridge(make_bridge: BridgeFactory) -> BridgeProcess:
    """A bridge connected to HA and NATS."""
    b = make_bridge()
    b.wait_connected()
    return b
