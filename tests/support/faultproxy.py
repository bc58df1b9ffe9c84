"""A TCP proxy in front of a real HTTP server that injects faults into chosen request bodies.

It follows HTTP/1.1 framing on the client side (request head, then Content-Length body bytes, with
keep-alive and `Expect: 100-continue` passing through untouched), and for a request whose line contains
`match` it can:
- "cut":  forward half of the body, then close both connections (an upload failing mid-body);
- "flip": invert one byte in the middle of the body (a corrupted upload the server accepts);
- "refuse": close the client connection at once (the server unreachable);
- "slow": hold every answer `delay` seconds before passing it on (a server busy with a long read).
`faults` counts how often a fault was injected.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode: str | None = None
        self.match = b""
        self.delay = 0.0
        self.faults = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, mode: str | None, match: str = "", delay: float = 0.0) -> None:
        self.mode, self.match, self.delay = mode, match.encode(), delay

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.mode == "refuse":
                self.faults += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._down, args=(upstream, client, self.delay if self.mode == "slow" else 0.0),
                             daemon=True).start()
            threading.Thread(target=self._up, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _down(upstream: socket.socket, client: socket.socket, delay: float) -> None:
        try:
            while data := upstream.recv(65536):
                time.sleep(delay)
                client.sendall(data)
        except OSError:
            pass
        finally:
            _shut(client, upstream, close=False)

    def _up(self, client: socket.socket, upstream: socket.socket) -> None:
        head = b""
        remaining = 0  # body bytes still to come of the current request
        target = False
        sent = 0
        length = 0
        try:
            while data := client.recv(65536):
                while data:
                    if remaining == 0:
                        head += data
                        end = head.find(b"\r\n\r\n")
                        if end < 0:
                            data = b""
                            break
                        request, data = head[:end + 4], head[end + 4:]
                        head = b""
                        upstream.sendall(request)
                        length = _content_length(request)
                        remaining, sent = length, 0
                        line = request.split(b"\r\n", 1)[0]
                        target = bool(self.mode in ("cut", "flip") and line.startswith(b"PUT ")
                                      and self.match in line and length > 1)
                        continue
                    chunk, data = data[:remaining], data[remaining:]
                    if target and self.mode == "cut" and sent + len(chunk) >= length // 2:
                        upstream.sendall(chunk[:length // 2 - sent])
                        self.faults += 1
                        raise ConnectionAbortedError("cut mid-body")
                    if target and self.mode == "flip" and sent <= length // 2 < sent + len(chunk):
                        at = length // 2 - sent
                        chunk = chunk[:at] + bytes([chunk[at] ^ 0xFF]) + chunk[at + 1:]
                        self.faults += 1
                    upstream.sendall(chunk)
                    sent += len(chunk)
                    remaining -= len(chunk)
        except OSError:
            pass
        finally:
            _shut(client, upstream, close=True)


def _shut(*sockets: socket.socket, close: bool) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        if close:
            s.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0
