"""A real HTTP receiver on 127.0.0.1 that verifies signatures exactly as docs/webhooks.md tells users to.

Its faults are those of real receivers: down (connections refused), answering a status (500...), slow
(answering after a delay), hanging (never answering until released). A request whose body is shorter
than its Content-Length (the sender died mid-request) is not a delivery: it is counted in `cut_off`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """The docs' example, verbatim in substance: 5-minute window, HMAC over "<timestamp>.<body>", constant time."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - sent) > 300:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class Server(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: a dispatcher's 16 concurrent senders after an outage would have
    # their connections refused, which a real receiver (any production server) does not do.
    request_queue_size = 128


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers.get("X-Webhook-Id", "")


class Receiver:
    """Answers each POST with the next status of `script` (then `default`); records every request."""

    def __init__(self, secret: str = "", script: list[int] | None = None, default: int = 200,
                 retry_after: int | None = None) -> None:
        self.secret = secret
        self.retry_after = retry_after  # sent with every 503
        self.script = list(script or [])
        self.default = default
        self.delay_s = 0.0  # a slow receiver: answers this long after the request arrived
        self.received: list[Received] = []
        self.cut_off = 0  # requests whose body ended before its Content-Length
        self._lock = threading.Lock()
        self._released = threading.Event()  # cleared: hanging, every request waits for it
        self._released.set()
        self._thread: threading.Thread | None = None
        self.server = self._serve(0)
        self.port = self.server.server_address[1]

    def _serve(self, port: int) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:  # the sender went away mid-request: nothing to answer, nothing delivered
                    with owner._lock:
                        owner.cut_off += 1
                    return
                headers = {k: v for k, v in self.headers.items()}
                ok = verify(owner.secret, headers.get("X-Webhook-Timestamp", ""), body,
                            headers.get("X-Webhook-Signature", ""))
                with owner._lock:
                    status = owner.script.pop(0) if owner.script else owner.default
                    owner.received.append(Received(self.path, headers, body, ok, status, time.monotonic()))
                    delay = owner.delay_s
                owner._released.wait()
                time.sleep(delay)
                try:
                    self.send_response(status)
                    if status == 503 and owner.retry_after is not None:
                        self.send_header("Retry-After", str(owner.retry_after))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        server = Server(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def go_down(self) -> None:
        """Stop listening: every connection is refused until `come_up`."""
        self.server.shutdown()
        self.server.server_close()

    def come_up(self) -> None:
        self.server = self._serve(self.port)

    def hang(self) -> None:
        """Accept requests and never answer them until `release`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def delivered(self) -> list[Received]:
        """Requests answered 2xx."""
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def verified_ids(self) -> set[str]:
        """Delivery ids of every correctly signed request that was answered 2xx (duplicates dropped)."""
        return {r.delivery_id for r in self.delivered() if r.verified}

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(secret: str = "", script: list[int] | None = None, default: int = 200,
              retry_after: int | None = None) -> Iterator[Receiver]:
    receiver = Receiver(secret, script, default, retry_after)
    try:
        yield receiver
    finally:
        receiver.close()
