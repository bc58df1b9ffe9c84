"""/health, /ready and /metrics over plain HTTP, on a thread of their own.

/health always answers 200 while the process runs (a liveness probe must not restart the bridge
because HA is down: that would only lose its in-memory state); its body says how things are.
/ready is 200 only while connected and authenticated to HA; `status` is "ok" when, in addition,
JetStream takes publishes and HA has both backfill sources (history, logbook); otherwise "degraded",
with each reason in `warnings`. No field can hold the token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ha_bridge.sources import Sources
from ingestor import jsoncodec, metrics, redaction
from ingestor.timeutil import parse_timestamp

log = logging.getLogger(__name__)

_connected = metrics.gauge("bridge_connected", "1 while connected and authenticated to HA")
_reconnects = metrics.counter("bridge_reconnects_total", "Connections to HA after the first")
_last_event = metrics.gauge("bridge_last_event_timestamp_seconds", "When the last event was read from HA (epoch)")


@dataclass
class Status:
    """The bridge's state as /health shows it; written by the session and reader threads."""

    ha_url: str
    replica: str = "bridge"
    connected: bool = False
    authenticated: bool = False
    subscribed: bool = False
    ha_version: str | None = None
    connected_since: float | None = None
    last_event_at: float | None = None
    reconnects: int = 0
    connect_failures: int = 0
    last_error: str | None = None
    paused: bool = False
    sources: Sources | None = None
    ha_clock_offset_s: float = 0.0  # HA's clock minus ours, from the events' time_fired
    _offset_sampled_at: float = 0.0

    def event_seen(self, time_fired: Any = None) -> None:
        self.last_event_at = now = time.time()
        _last_event.set(now)
        if time_fired is not None and now - self._offset_sampled_at >= 1.0:  # once a second is plenty
            self._offset_sampled_at = now
            with contextlib.suppress(ValueError, TypeError):
                self.ha_clock_offset_s = parse_timestamp(time_fired).timestamp() - now

    def ha_now(self) -> dt.datetime:
        """The bridge's estimate of HA's clock now."""
        return dt.datetime.fromtimestamp(time.time() + self.ha_clock_offset_s, dt.UTC)

    def set_connected(self, connected: bool, ha_version: str | None = None) -> None:
        self.connected = self.authenticated = connected
        self.subscribed = self.subscribed and connected
        _connected.set(1 if connected else 0)
        if connected:
            self.ha_version = ha_version
            self.connected_since = time.time()
        else:
            self.connected_since = None

    def reconnected(self) -> None:
        self.reconnects += 1
        _reconnects.inc()


def _iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z" if ts else None


class HealthServer:
    def __init__(self, host: str, port: int, status: Status, extra: Any) -> None:
        self.status = status
        self.extra = extra  # callable returning the publisher's figures (spool depth, NATS state)
        handler = self._handler()
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def body(self) -> dict[str, Any]:
        s = self.status
        extra = self.extra()
        warnings = s.sources.risks() if s.sources else []
        ok = s.connected and s.authenticated and extra.get("nats_publishing", True) and not warnings
        return {
            "status": "ok" if ok else "degraded",
            "warnings": warnings,
            "replica": s.replica,
            "ha_url": s.ha_url,
            "connected": s.connected,
            "authenticated": s.authenticated,
            "subscribed": s.subscribed,
            "ha_version": s.ha_version,
            "connected_since": _iso(s.connected_since),
            "last_event_time": _iso(s.last_event_at),
            "reconnect_count": s.reconnects,
            "connect_failures": s.connect_failures,
            "paused": s.paused,
            "last_error": s.last_error,
            "backfill_sources": s.sources.doc() if s.sources else None,
            **extra,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, content_type = metrics.exposition()
                    self._send(200, body, content_type)
                elif path in ("/health", "/healthz", "/ready"):
                    doc = outer.body()
                    ready = doc["connected"] and doc["authenticated"]
                    status = 200 if path != "/ready" or ready else 503
                    self._send(status, redaction.redact(jsoncodec.dumps(doc).decode()).encode(), "application/json")
                else:
                    self._send(404, b'{"error":{"code":"not_found","message":"no such path"}}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet access log
                pass

        return Handler
