"""Wiring and lifetime: start every part, stop on SIGTERM/SIGINT without losing what is in flight.

Shutdown runs in dependency order: stop reading HA, flush the batcher, give the outbox a few
seconds to get acknowledgements, spool whatever is left, save the cursor. Exit codes: 0 on a
signal, 78 (EX_CONFIG) on a configuration error or a token HA rejects, so a supervisor does not
restart into the same failure.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from ha_bridge.batcher import Batcher
from ha_bridge.health import HealthServer, Status
from ha_bridge.publisher import Outbox
from ha_bridge.session import Session
from ha_bridge.settings import Settings, load
from ha_bridge.spool import Spool
from ha_bridge.state import BridgeState
from ingestor import config, logs
from ingestor.bus import Bus
from ingestor.config import ConfigError

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0


def _display_url(url: str) -> str:
    """scheme://host:port only: a URL may carry credentials or query parameters."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


class Bridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.spool_dir.mkdir(parents=True, exist_ok=True)
        self.stop = threading.Event()
        self.state = BridgeState(settings.spool_dir)
        self.spool = Spool(settings.spool_dir, settings.spool_max_bytes)
        self.bus = Bus(settings.nats_url, name="gateway-bridge", timeout=settings.ack_timeout_s)
        self.outbox = Outbox(self.bus, self.spool, self.state, settings.nats_url)
        self.batcher = Batcher(settings.batch_size, settings.batch_ms, settings.dedup_size, self.outbox.put)
        self.status = Status(ha_url=_display_url(settings.ws_url))
        self.session = Session(settings, self.status, self.batcher, self.outbox, self.state, self.stop)
        self.health = HealthServer(settings.health_host, settings.health_port, self.status, self.figures)

    def figures(self) -> dict[str, Any]:
        return {
            "nats_connected": self.bus.is_connected(),
            **self.outbox.figures(),
            "queued_events": self.batcher.depth(),
            "cursor": self.state.cursor.isoformat() if self.state.cursor else None,
        }

    def run(self) -> int:
        self.health.start()
        self.outbox.start()
        self.batcher.start()
        self.session.start()
        log.info("gateway-bridge started", extra={"ha_url": self.status.ha_url, "nats_url": self.settings.nats_url,
                                                  "health_port": self.health.port,
                                                  "event_types": list(self.settings.event_types)})
        while not self.stop.wait(1):
            pass
        self.shutdown()
        return self.session.exit_code

    def shutdown(self) -> None:
        log.info("stopping")
        self.stop.set()
        self.session.join(10)
        self.batcher.stop()
        self.outbox.close(SHUTDOWN_GRACE_S)
        self.health.stop()
        try:
            self.bus.close()
        except Exception:  # closing a connection to a NATS that is gone must not hide the clean stop
            log.debug("closing the NATS connection failed", exc_info=True)
        log.info("stopped", extra={"spool_depth": self.spool.depth})


class Throttle(logging.Filter):
    """nats-py logs every failed reconnect (twice a second) at ERROR with a traceback, because the shared
    Bus sets no error callback: keep one short line per interval; the outbox logs the outage itself."""

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            record.args, record.exc_info, record.exc_text = None, None, None
        key = record.getMessage()[:80]
        now = time.monotonic()
        if now - self._last.get(key, -self.interval_s) < self.interval_s:
            return False
        self._last[key] = now
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def main() -> int:
    logs.setup("gateway-bridge")
    logging.getLogger("nats.aio.client").addFilter(Throttle())
    try:
        settings = load()
    except ConfigError as exc:
        log.error("configuration error; the bridge stops", extra={"error": str(exc)})
        return config.EXIT_CONFIG
    bridge = Bridge(settings)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        bridge.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return bridge.run()
