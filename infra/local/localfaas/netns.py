"""A child process in a network namespace of its own, reached through relays on the host's loopback.

OpenFaaS's gateway listens on :8080 and :8082, fixed in its code. In its own namespace those ports are its
own, so gateways of several runs (and `make run` on 8080) live side by side. Sockets belong to the
namespace of the thread that created them: one thread entered into the child's namespace makes the
relays' sockets there, and the event loop moves the bytes. Needs CAP_SYS_ADMIN (root), as faasd does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import fcntl
import logging
import os
import socket
import struct
import subprocess
import threading
from collections.abc import Callable

from localfaas.ports import LOOPBACK, listener

log = logging.getLogger("netns")
CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def isolate() -> None:
    """Runs in a child before exec: a new network namespace with its loopback up."""
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, _SIOCGIFFLAGS, struct.pack("16sH", b"lo", 0)))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def join(pid: int) -> Callable[[], None]:
    """A preexec function: the child enters the network namespace of process `pid`."""

    def enter() -> None:
        Namespace._enter(pid)

    return enter


def supported() -> str | None:
    """None when a namespace can be made here, else why not."""
    try:
        subprocess.run(["true"], preexec_fn=isolate, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot make a network namespace: {exc}"
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class Namespace:
    """Relays between the host's loopback and the namespace of process `pid`, on an event loop of their own."""

    def __init__(self, pid: int) -> None:
        self._inside = concurrent.futures.ThreadPoolExecutor(1, initializer=self._enter, initargs=(pid,))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"netns-{pid}", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.AbstractServer] = []

    @staticmethod
    def _enter(pid: int) -> None:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), "setns")
        finally:
            os.close(fd)

    def _run(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)  # type: ignore[arg-type]

    def expose(self, inner_port: int, host_port: int = 0) -> int:
        """A port on the host's loopback that leads to `inner_port` inside; returns the host port."""
        sock = listener(port=host_port)

        def connect() -> socket.socket:
            return self._inside.submit(socket.socket, socket.AF_INET, socket.SOCK_STREAM).result()

        self._run(self._serve(sock, connect, inner_port))
        return int(sock.getsockname()[1])

    def reach(self, host_port: int, inner_port: int) -> None:
        """A port inside the namespace that leads to `host_port` on the host's loopback."""
        sock = self._inside.submit(listener, LOOPBACK, inner_port).result()
        self._run(self._serve(sock, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), host_port))

    async def _serve(self, sock: socket.socket, new_socket: Callable[[], socket.socket], port: int) -> None:
        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            upstream = new_socket()
            upstream.setblocking(False)
            try:
                await self._loop.sock_connect(upstream, (LOOPBACK, port))
                up_reader, up_writer = await asyncio.open_connection(sock=upstream)
            except OSError:
                upstream.close()
                writer.close()
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

        self._servers.append(await asyncio.start_server(relay, sock=sock))

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
                await server.wait_closed()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._inside.shutdown(wait=False)
