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
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from ha_bridge.backfiller import Backfiller
from ha_bridge.batcher import Batcher
from ha_bridge.gaps import Gaps
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
        self.gaps = Gaps(settings.spool_dir)
        self.backfiller = Backfiller(settings, self.gaps, self.batcher, self.outbox, self.bus)
        self.status = Status(ha_url=_display_url(settings.ws_url), replica=settings.replica)
        self.session = Session(settings, self.status, self.batcher, self.outbox, self.state, self.gaps,
                               self.backfiller, self.stop)
        self.health = HealthServer(settings.health_host, settings.health_port, self.status, self.figures)

    def figures(self) -> dict[str, Any]:
        return {
            "nats_connected": self.bus.is_connected(),
            **self.outbox.figures(),
            "queued_events": self.batcher.depth(),
            "cursor": self.state.cursor.isoformat() if self.state.cursor else None,
            "backfill": self.backfiller.status(),
        }

    def run(self) -> int:
        self.health.start()
        self.outbox.start()
        self.batcher.start()
        self.backfiller.start()
        self.session.start()
        log.info("gateway-bridge started", extra={"replica": self.settings.replica, "ha_url": self.status.ha_url,
                                                  "nats_url": self.settings.nats_url,
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
        self.backfiller.stop()
        self.batcher.stop()
        self.outbox.close(SHUTDOWN_GRACE_S)
        self.health.stop()
        try:
            self.bus.close()
        except Exception:  # closing a connection to a NATS that is gone must not hide the clean stop
            log.debug("closing the NATS connection failed", exc_info=True)
        log.info("stopped", extra={"spool_depth": self.spool.depth})


def main() -> int:
    logs.setup("gateway-bridge")
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
