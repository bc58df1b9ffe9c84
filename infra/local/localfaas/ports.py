"""Ports for child processes that no other process can be handed meanwhile.

Binding port 0, closing the socket and passing the number on (the usual "free port") leaves the port
free until the child binds it: the kernel may hand the same number to the next caller, and two
children then race for it. A `Reservation` keeps a socket bound to the port with SO_REUSEADDR and
never listens on it. The kernel's port-0 choice and outgoing connections skip a bound port, and a
plain bind of it fails, yet a server that sets SO_REUSEADDR itself (waitress, aiohttp, http.server,
Go's net package: nats-server, weed, influxd; PostgreSQL) binds and listens on it. Only one socket
can listen on it at a time, so a second server fails loudly instead of sharing it (no SO_REUSEPORT).
Hold the reservation for as long as a child may (re)bind the port, and close it afterwards.
"""

from __future__ import annotations

import socket
import weakref

LOOPBACK = "127.0.0.1"


class Reservation:
    """A port held for a child process: bound with SO_REUSEADDR, never listening."""

    def __init__(self, host: str = LOOPBACK, port: int = 0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        self.host = host
        self.port: int = sock.getsockname()[1]
        self._release = weakref.finalize(self, sock.close)  # held as long as its owner, unless released

    def release(self) -> None:
        self._release()

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def reserve(host: str = LOOPBACK) -> Reservation:
    """A port no other process will be given until the reservation is released."""
    return Reservation(host)


def listener(host: str = LOOPBACK, port: int = 0, backlog: int = 512) -> socket.socket:
    """A listening socket for a server of this process (port 0: any free port, known at once)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
