"""Reserved ports: no other process is handed one, yet the server it is meant for can listen on it."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localfaas import ports
from tests.support.homeassistant import HomeAssistant
from tests.support.servers import InfluxDB1Server, PostgresServer


def plain_bind_refused(port: int) -> bool:
    """What another process does with a port number it was handed: bind it without SO_REUSEADDR."""
    with socket.socket() as other:
        try:
            other.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


def test_the_kernel_never_hands_out_a_reserved_port() -> None:
    with ports.reserve() as reserved:
        handed = set()
        for _ in range(3000):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                handed.add(s.getsockname()[1])
        assert reserved.port not in handed
        assert plain_bind_refused(reserved.port)


def test_the_server_a_port_is_reserved_for_listens_on_it_and_a_second_one_cannot() -> None:
    reserved = ports.reserve()
    with reserved, ports.listener(port=reserved.port) as server:  # SO_REUSEADDR, as servers set it
        with socket.create_connection(("127.0.0.1", reserved.port), timeout=2):
            pass
        with pytest.raises(OSError) as second:
            ports.listener(port=reserved.port)
        assert second.value.errno == errno.EADDRINUSE
        assert server.getsockname()[1] == reserved.port


def test_a_released_reservation_frees_the_port() -> None:
    reserved = ports.reserve()
    reserved.release()
    assert not plain_bind_refused(reserved.port)


@pytest.mark.parametrize("make", [lambda tmp: HomeAssistant(tmp), lambda tmp: PostgresServer(),
                                  lambda tmp: InfluxDB1Server()], ids=["homeassistant", "postgres", "influxdb"])
def test_the_test_servers_hold_their_port_from_the_moment_they_choose_it(make: Callable[[Path], Any],
                                                                         tmp_path: Path) -> None:
    server = make(tmp_path)
    try:
        assert plain_bind_refused(server.port)
    finally:
        if hasattr(server, "cleanup"):
            server.cleanup()
