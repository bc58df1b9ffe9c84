"""The connection lifecycle: connect, authenticate, subscribe, discover, record the gap, keep alive, reconnect.

Runs on its own thread. Every (re)connection does the whole sequence, so nothing depends on what
a previous connection had set up. Subscriptions come before discovery and backfill: an event that
happens meanwhile arrives live, and its backfilled twin is dropped by event_id. The gap since the
last durable event is recorded on disk and filled by the backfiller in the background: a backfill
that fails (HA without its history or logbook, a timeout) never costs the live connection. A
rejected token stops the bridge with one clear error: retrying the same token cannot succeed, and a
retry storm gets the bridge's address banned by HA's `ip_ban`.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import websocket

from ha_bridge import discovery, observed
from ha_bridge.backfiller import Backfiller
from ha_bridge.batcher import Batcher
from ha_bridge.connection import CommandFailed, Connection, ConnectionLost, Waiter
from ha_bridge.gaps import Gaps
from ha_bridge.health import Status
from ha_bridge.protocol import AuthInvalid, ProtocolError
from ha_bridge.publisher import Outbox
from ha_bridge.settings import REGISTRY_EVENTS, Settings
from ha_bridge.sources import Sources, announce
from ha_bridge.state import BridgeState
from ingestor import config, metrics

log = logging.getLogger(__name__)

_connect_failures = metrics.counter("bridge_connect_failures_total", "Failed attempts to connect to HA", ["reason"])
_auth_failures = metrics.counter("bridge_auth_failures_total", "Connections HA refused with auth_invalid")

STABLE_AFTER_S = 30.0  # a connection that lasted this long resets the backoff
REGISTRY_MAX_DELAY_S = 30.0  # debounce, but a steady stream of registry updates still refreshes
GAP_END_MARGIN = dt.timedelta(seconds=60)
"""A gap ends where the live events of the new connection begin, on HA's clock, which the bridge only
estimates (from the events' time_fired): the margin covers the estimate's error; the overlap costs only
repeats that are dropped by event_id."""


class Backoff:
    """Retry delays drawn from [d/2, d]: d = min_s for the first FAST_FOR_S of an outage (an HA restart takes
    seconds, and every second before the bridge is back costs events no API gives back: call_service),
    then min_s doubling to max_s."""

    FAST_FOR_S = 60.0

    def __init__(self, min_s: float, max_s: float, rng: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_s, self.max_s, self.rng, self.clock = min_s, max_s, rng, clock
        self.attempt = 0
        self.since: float | None = None

    def next(self) -> float:
        if self.since is None:
            self.since = self.clock()
        if self.clock() - self.since < self.FAST_FOR_S:
            delay = self.min_s
        else:
            delay = min(self.max_s, self.min_s * 2 ** min(self.attempt, 32))
            self.attempt += 1
        return delay / 2 + self.rng() * delay / 2

    def reset(self) -> None:
        self.attempt = 0
        self.since = None


class Session:
    def __init__(self, settings: Settings, status: Status, batcher: Batcher, outbox: Outbox,
                 state: BridgeState, gaps: Gaps, backfiller: Backfiller, stop: threading.Event) -> None:
        self.settings = settings
        self.status = status
        self.batcher = batcher
        self.outbox = outbox
        self.state = state
        self.gaps = gaps
        self.backfiller = backfiller
        self.stop = stop
        self.exit_code = 0
        self.sources: Sources | None = None
        self._last_reason = "the bridge started"  # why the previous connection ended, for the gap's record
        self._registry_lock = threading.Lock()
        self._registry_due: float | None = None
        self._registry_first: float | None = None
        self._thread = threading.Thread(target=self.run, name="session", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # -- reader thread callbacks --------------------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        """Called on the socket reader thread: only enqueue, never wait."""
        self.status.event_seen(event.get("time_fired"))
        self.batcher.put(event)
        if event.get("event_type") in REGISTRY_EVENTS:
            self.registry_changed()

    def registry_changed(self) -> None:
        now = time.monotonic()
        with self._registry_lock:
            if self._registry_first is None:
                self._registry_first = now
            self._registry_due = min(now + self.settings.registry_debounce_s,
                                     self._registry_first + REGISTRY_MAX_DELAY_S)

    def _registry_refresh_due(self, now: float) -> bool:
        with self._registry_lock:
            if self._registry_due is None or now < self._registry_due:
                return False
            self._registry_due = self._registry_first = None
            return True

    # -- lifecycle ----------------------------------------------------------------------------------

    def run(self) -> None:
        backoff = Backoff(self.settings.reconnect_min_s, self.settings.reconnect_max_s)
        connections = 0
        while not self.stop.is_set():
            if self._wait_for_spool_room():
                continue
            conn = Connection(self.settings, self.on_event)
            try:
                version = conn.open()
            except AuthInvalid as exc:
                _auth_failures.inc()
                self.status.last_error = f"auth_invalid: {exc}"
                log.error("Home Assistant rejected the access token (auth_invalid); the bridge stops. Create a "
                          "long-lived access token in your HA profile, put it in the ha-token secret (or HA_TOKEN) "
                          "and start the bridge again", extra={"ha_url": self.status.ha_url, "reply": str(exc)})
                self.exit_code = config.EXIT_CONFIG
                self.stop.set()
                return
            except (OSError, websocket.WebSocketException, ProtocolError, TimeoutError) as exc:
                reason = type(exc).__name__
                _connect_failures.labels(reason).inc()
                self.status.connect_failures += 1
                self.status.last_error = f"connect failed: {reason}: {exc}"
                delay = backoff.next()
                log.warning("cannot connect to HA", extra={"error": self.status.last_error,
                                                           "retry_in_s": round(delay, 2)})
                self.stop.wait(delay)
                continue
            connections += 1
            if connections > 1:
                self.status.reconnected()
            self.status.set_connected(True, version)
            self.status.last_error = None
            log.info("connected to HA", extra={"ha_version": version, "connection": connections})
            started = time.monotonic()
            reason = "bridge stopping"
            try:
                self._serve(conn)
                reason = conn.close_reason or reason
            except (ConnectionLost, TimeoutError, CommandFailed, ProtocolError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # never let a bug end the session thread: reconnect instead
                log.exception("session failed")
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
                self.status.set_connected(False)
            if self.stop.is_set():
                return
            if time.monotonic() - started >= STABLE_AFTER_S:
                backoff.reset()
            delay = backoff.next()
            self._last_reason = reason
            self.status.last_error = f"disconnected: {reason}"
            log.warning("disconnected from HA", extra={"reason": reason, "retry_in_s": round(delay, 2)})
            self.stop.wait(delay)

    def _wait_for_spool_room(self) -> bool:
        """Hold off reading HA while the spool is nearly full; the gap is backfilled on reconnect."""
        if not self.outbox.paused(self.status.paused):
            if self.status.paused:
                log.info("spool has room again; reconnecting to HA")
            self.status.paused = False
            return False
        if not self.status.paused:
            log.error("spool nearly full: not reading HA until NATS drains it",
                      extra={"spool_bytes": self.outbox.spool.bytes})
        self.status.paused = True
        self.stop.wait(1)
        return True

    def _serve(self, conn: Connection) -> None:
        s = self.settings
        before_gap = self.state.states()
        cursor = self.state.cursor
        conn.request("supported_features", timeout=s.request_timeout_s, features={"coalesce_messages": 1})
        subscriptions = [(kind, conn.send("subscribe_events", event_type=kind)) for kind in s.event_types]
        for kind, waiter in subscriptions:
            try:
                waiter.result(s.request_timeout_s)
            except CommandFailed as exc:
                log.error("HA refused a subscription", extra={"event_type": kind, "error": str(exc)})
        subscribed_at = self.status.ha_now()
        self.status.subscribed = True
        log.info("subscribed", extra={"event_types": list(s.event_types)})

        results = self._discover(conn)
        sources = Sources.of((results.get("config") or [None])[0])
        announce(self.sources, sources)
        self.sources = self.status.sources = sources
        states = [st for st in results.get("states", [])
                  if isinstance(st, dict) and isinstance(st.get("entity_id"), str)]
        if s.backfill and cursor is not None:
            self._record_gap(cursor, subscribed_at, sources)
        self.backfiller.attach(conn, sources, {st["entity_id"] for st in states} | set(before_gap), before_gap,
                               {st["entity_id"]: st for st in states})
        try:
            self._keep_alive(conn)
        finally:
            self.backfiller.detach()

    def _record_gap(self, cursor: dt.datetime, subscribed_at: dt.datetime, sources: Sources) -> None:
        """The period since the last durable event, kept until backfilled; without HA's logbook also the
        bridge's own record of it (observed.py)."""
        oldest = dt.datetime.now(dt.UTC) - dt.timedelta(hours=self.settings.backfill_max_hours)
        gap = self.gaps.add(max(cursor, oldest), subscribed_at + GAP_END_MARGIN)
        log.info("gap recorded for backfill", extra={**gap.doc(), "sources": sources.doc()})
        if not sources.logbook and subscribed_at > cursor:
            for event in observed.gap_events(self.settings.replica, cursor, subscribed_at, self._last_reason):
                self.batcher.put(event, "backfill")

    def _discover(self, conn: Connection) -> dict[str, list[Any]]:
        s = self.settings
        results = discovery.publish_snapshot(conn, self.outbox.put, conn.ha_version or "unknown",
                                             s.part_max_items, s.part_max_bytes, s.request_timeout_s)
        self.state.remember(results.get("states", []))
        return results

    def _keep_alive(self, conn: Connection) -> None:
        s = self.settings
        next_ping = time.monotonic() + s.ping_interval_s
        pong: Waiter | None = None
        pong_deadline = 0.0
        while not self.stop.is_set() and not conn.closed.is_set():
            now = time.monotonic()
            if pong is not None and pong.done():
                pong.message(0)  # raises ConnectionLost if the connection died instead
                pong = None
            if pong is not None and now > pong_deadline:
                conn.close(f"no pong within {s.ping_timeout_s:g} s")
                raise TimeoutError(f"heartbeat: no pong within {s.ping_timeout_s:g} s")
            if pong is None and now >= next_ping:
                pong = conn.send("ping")
                pong_deadline = now + s.ping_timeout_s
                next_ping = now + s.ping_interval_s
            if self._registry_refresh_due(now):
                self._discover(conn)
            if self.outbox.paused(False):
                self.status.paused = True
                log.error("spool nearly full: disconnecting from HA until NATS drains it",
                          extra={"spool_bytes": self.outbox.spool.bytes})
                conn.close("spool nearly full")
                return
            conn.closed.wait(0.2)
        if conn.closed.is_set() and not self.stop.is_set():
            raise ConnectionLost(conn.close_reason or "closed")
