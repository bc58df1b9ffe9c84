"""A real HTTP receiver on 127.0.0.1 that verifies signatures exactly as docs/webhooks.md tells users to."""

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


class Receiver:
    """Answers each POST with the next status of `script` (then `default`); records every request."""

    def __init__(self, secret: str = "", script: list[int] | None = None, default: int = 200,
                 retry_after: int | None = None) -> None:
        self.secret = secret
        self.retry_after = retry_after  # sent with every 503
        self.script = list(script or [])
        self.default = default
        self.received: list[Received] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()}
                ok = verify(owner.secret, headers.get("X-Webhook-Timestamp", ""), body,
                            headers.get("X-Webhook-Signature", ""))
                with owner._lock:
                    status = owner.script.pop(0) if owner.script else owner.default
                    owner.received.append(Received(self.path, headers, body, ok, status, time.monotonic()))
                self.send_response(status)
                if status == 503 and owner.retry_after is not None:
                    self.send_header("Retry-After", str(owner.retry_after))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def delivered(self) -> list[Received]:
        """Requests answered 2xx."""
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)


@contextmanager
def receiving(secret: str = "", script: list[int] | None = None, default: int = 200,
              retry_after: int | None = None) -> Iterator[Receiver]:
    receiver = Receiver(secret, script, default, retry_after)
    thread = threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)
