"""Fills the recorded gaps in the background: the live connection never waits for a backfill, nor falls with one.

A gap's events come from HA's history (state changes) and logbook (automations, scripts, logbook entries,
HA start/stop), whichever HA has (sources.py); those already on ha.events.raw (forwarded.py: the other
replica had them live, or an earlier pass) are left out; the rest go to the batcher as backfill. The gap
is closed only once all of them are durable (acknowledged by JetStream or in the spool), so a crash in
between backfills it again instead of losing it. A pass that ends within a minute of now is repeated after
BRIDGE_BACKFILL_RECHECK_S, for the changes HA's recorder had not yet committed the first time.

A failure (HA refusing a command, a timeout, the spool full) is retried with backoff, 5 s doubling to
5 min, and logged once when it starts and once when it ends; the connection to HA is never closed for it.
When the connection drops, the gap waits for the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ha_bridge import backfill, forwarded, logbook
from ha_bridge.batcher import Batcher, event_key
from ha_bridge.connection import CommandFailed, Connection, ConnectionLost
from ha_bridge.gaps import Gap, Gaps
from ha_bridge.publisher import Outbox
from ha_bridge.settings import Settings
from ha_bridge.sources import Sources
from ingestor import metrics
from ingestor.bus import Bus
from ingestor.errors import Unavailable
from ingestor.outage import Outage

log = logging.getLogger(__name__)

_left_out = metrics.counter("bridge_backfill_already_forwarded_total",
                            "Backfilled events left out because ha.events.raw already held them")
_forwarded = metrics.counter("bridge_backfill_forwarded_total",
                             "Backfilled events handed to the batcher (which drops one it has just seen live), by type",
                             ["event_type"])

BACKOFF_MIN_S = 5.0
BACKOFF_MAX_S = 300.0
RECENT = dt.timedelta(minutes=1)


class Retry(Exception):
    """This pass did not get the gap's events durable; the gap stays and is tried again later."""


@dataclass
class Connected:
    """What a connection learnt that the backfill needs."""

    conn: Connection
    sources: Sources
    entity_ids: set[str]
    before_gap: dict[str, dict[str, Any]]
    current: dict[str, dict[str, Any]]
    generation: int = 0


@dataclass
class Report:
    gaps_filled: int = 0
    events: Counter[str] = field(default_factory=Counter)
    left_out: int = 0
    last_gap: dict[str, Any] | None = None


class Backfiller:
    def __init__(self, settings: Settings, gaps: Gaps, batcher: Batcher, outbox: Outbox, bus: Bus) -> None:
        self.settings = settings
        self.gaps = gaps
        self.batcher = batcher
        self.outbox = outbox
        self.bus = bus
        self.report = Report()
        self.outage = Outage(log, "backfill failed; retrying in the background while live capture continues",
                             "backfill works again")
        self._cond = threading.Condition()
        self._connected: Connected | None = None
        self._generation = 0
        self._next_try = 0.0
        self._backoff = BACKOFF_MIN_S
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="backfill", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def attach(self, conn: Connection, sources: Sources, entity_ids: set[str],
               before_gap: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]) -> None:
        """A new connection: gaps are worked on through it, at once."""
        with self._cond:
            self._generation += 1
            self._connected = Connected(conn, sources, entity_ids, before_gap, current, self._generation)
            self._next_try, self._backoff = 0.0, BACKOFF_MIN_S
            self._cond.notify_all()

    def detach(self) -> None:
        with self._cond:
            self._generation += 1
            self._connected = None
            self._cond.notify_all()

    def status(self) -> dict[str, Any]:
        pending = self.gaps.pending()
        return {"pending_gaps": len(pending), "oldest_gap": pending[0].doc() if pending else None,
                "gaps_filled": self.report.gaps_filled, "events": dict(self.report.events),
                "already_forwarded": self.report.left_out, "last_gap": self.report.last_gap,
                "failing": self.outage.status()}

    # -- the worker -------------------------------------------------------------------------------------

    def _current(self, generation: int) -> bool:
        with self._cond:
            return not self._stopping and self._connected is not None and self._connected.generation == generation

    def _next(self) -> tuple[Connected, Gap] | None:
        """Wait until there is a gap, a connection and no backoff pending; None when stopping."""
        with self._cond:
            while not self._stopping:
                oldest = dt.datetime.now(dt.UTC) - dt.timedelta(hours=self.settings.backfill_max_hours)
                self.gaps.expire(oldest)
                pending = self.gaps.pending()
                wait = self._next_try - time.monotonic()
                if self._connected is not None and pending and wait <= 0:
                    return self._connected, pending[0]
                self._cond.wait(min(max(wait, 0.05), 1.0) if self._connected and pending else 1.0)
        return None

    def _run(self) -> None:
        while (work := self._next()) is not None:
            connected, gap = work
            try:
                started = time.monotonic()
                counts, left_out = self._fill(connected, gap)
                seconds = time.monotonic() - started
                sources = connected.sources
                recent = gap.end > dt.datetime.now(dt.UTC) - RECENT
                if recent and (sources.history or sources.logbook) and self._pause(connected.generation):
                    started = time.monotonic()
                    more, also_left_out = self._fill(connected, gap)  # what HA's recorder had not yet committed
                    counts, left_out = counts + more, left_out + also_left_out
                    seconds += time.monotonic() - started
                if self._current(connected.generation):
                    self.gaps.done(gap)
                    self.outage.recovered()
                    self._filled(gap, connected.sources, counts, left_out, seconds)
            except ConnectionLost:
                pass  # the session reconnects; the gap waits for the next connection
            except (CommandFailed, TimeoutError, Unavailable, Retry) as exc:
                self._retry_later(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug must not end the worker: the gap stays, the log says why
                log.exception("backfill failed")
                self._retry_later(f"{type(exc).__name__}: {exc}")

    def _pause(self, generation: int) -> bool:
        """Sleep BRIDGE_BACKFILL_RECHECK_S unless the connection changes or the bridge stops."""
        deadline = time.monotonic() + self.settings.backfill_recheck_s
        with self._cond:
            while time.monotonic() < deadline:
                if self._stopping or self._connected is None or self._connected.generation != generation:
                    return False
                self._cond.wait(deadline - time.monotonic())
        return self._current(generation)

    def _retry_later(self, reason: str) -> None:
        self.outage.failed(reason)
        with self._cond:
            self._next_try = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)

    def _filled(self, gap: Gap, sources: Sources, counts: Counter[str], left_out: int, seconds: float) -> None:
        self.report.events.update(counts)
        self.report.left_out += left_out
        self.report.gaps_filled += 1
        self.report.last_gap = {**gap.doc(), "events": dict(counts), "already_forwarded": left_out,
                                "sources": sources.doc(), "seconds": round(seconds, 3)}
        log.info("backfilled a gap", extra=self.report.last_gap)
        if sources.missing():
            log.warning("a gap was backfilled without some of HA's integrations: what only they hold is lost",
                        extra={**gap.doc(), "missing": sources.missing()})

    def _fill(self, connected: Connected, gap: Gap) -> tuple[Counter[str], int]:
        """One pass over `gap`: its events durable, by type, and how many the stream already held."""
        s = self.settings
        conn, sources = connected.conn, connected.sources
        events: list[dict[str, Any]] = []
        if sources.history and "state_changed" in s.event_types:
            events += backfill.run(conn, gap.start, gap.end, connected.entity_ids, connected.before_gap,
                                   connected.current, s.request_timeout_s)
        if sources.logbook:
            events += logbook.run(conn, gap.start, gap.end, s.event_types, s.request_timeout_s)
        already = forwarded.event_ids_since(self.bus, gap.start, s.request_timeout_s) if events else set()
        fresh = [e for e in events if already is None or event_key(e) not in already]
        fresh.sort(key=lambda e: dt.datetime.fromisoformat(e["time_fired"]))
        refused = self.outbox.refused
        for event in fresh:
            self.batcher.put(event, "backfill")
        if not self.batcher.flush_marker().wait(s.request_timeout_s):
            raise Retry("the batcher did not take the backfilled events in time")
        if not self.outbox.wait_durable(self.outbox.accepted(), s.request_timeout_s):
            raise Retry("the backfilled events were not acknowledged or spooled in time")
        if self.outbox.refused != refused:
            raise Retry("the spool was full and refused backfilled events")
        counts = Counter(e["event_type"] for e in fresh)
        for kind, n in counts.items():
            _forwarded.labels(kind).inc(n)
        _left_out.inc(len(events) - len(fresh))
        return counts, len(events) - len(fresh)
