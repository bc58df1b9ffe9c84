"""Micro-batches for ha.events.raw, cut where every replica of the bridge cuts them, deduplicated by event_id.

Runs on its own thread behind an unbounded queue, so the socket reader only ever appends. Each event
keeps HA's exact shape; its deterministic event_id drops repeats (a backfilled state the bridge already
forwarded live) and names the batch (`raw-<hash of the ids>`), so re-publishing the same batch (spool
replay after a lost ack) is dropped by JetStream's duplicate window.

Two replicas of the bridge receive the same events in the same order. So that they also publish the same
batches, and JetStream keeps only the first, a batch is cut by HA's own clock, not by when it arrived: the
live events whose time_fired falls in the same BRIDGE_BATCH_MS window (aligned to the epoch) form one
batch, cut again every BRIDGE_BATCH_SIZE events. A window is flushed as soon as an event of a later window
arrives (HA sends events in the order it fires them), or, in a quiet moment, a little after its end
(GRACE_S, measured on the local clock from the first event's arrival). Arrival is stamped when the reader
hands an event over, so a batcher thread that falls behind (a loaded machine) still puts every event that
arrived before a window's deadline into that window. A batch the two replicas still cut
differently (an event delayed past the grace) only costs work: the store and the webhook deliveries drop
the second copy by event_id. Backfilled events are cut the same way in windows of BACKFILL_WINDOW_S,
flushed when the backfill of a gap is handed over (flush_marker), so two replicas backfilling the same
gap also publish the same batches.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingestor import dlq, jsoncodec, metrics, subjects
from ingestor.event_id import event_id
from ingestor.timeutil import parse_timestamp

log = logging.getLogger(__name__)

_received = metrics.counter("bridge_events_received_total", "Events taken in, by source", ["source"])
_duplicates = metrics.counter("bridge_events_duplicate_total", "Events dropped because their event_id was seen")
_queue_depth = metrics.gauge("bridge_queue_depth", "Events read from HA and not yet batched")
_unencodable = metrics.counter("bridge_events_unencodable_total", "Events JSON cannot carry, dead-lettered")

DEAD_LETTER_BYTES = 256 * 1024
"""A dead letter of the bridge's own holds a preview of the event: far below any NATS max_payload."""
GRACE_S = 0.025
BACKFILL_WINDOW_S = 60.0
BACKFILL_FLUSH_S = 1.0  # a backfill's windows are flushed by its marker; this only bounds a forgotten one


@dataclass
class Batch:
    """One message to publish: an envelope already encoded, with what the bridge needs to track it."""

    subject: str
    batch_id: str
    payload: bytes
    count: int
    cursor: datetime | None = None
    """Latest time_fired among its events: once the batch is durable, HA's history before it is covered."""
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Latest new_state per entity in the batch: the 'last known state' used as old_state by backfill."""
    event_ids: list[str] = field(default_factory=list)
    encoded: list[bytes] | None = None
    """Its events, each encoded once, when the batch was made here (not read back from the spool): what an
    oversize batch is split from without decoding its payload."""
    source: str = "live"
    """"live" or "backfill": what the outbox reports when it tells the backfill its events are durable."""


def event_key(event: dict[str, Any]) -> str:
    """The event's deterministic event_id; for an event too odd to have one, a hash of its content."""
    try:
        return event_id(event)
    except (KeyError, ValueError, TypeError, AttributeError):
        return hashlib.blake2b(jsoncodec.dumps(event, sort_keys=True), digest_size=16).hexdigest()


def batch_id(prefix: str, event_ids: Iterable[str]) -> str:
    """Deterministic from the events' ids: the same events always form the same batch id (no ':')."""
    digest = hashlib.blake2b(digest_size=16)
    for eid in event_ids:
        digest.update(eid.encode())
        digest.update(b"\n")
    return f"{prefix}-{digest.hexdigest()}"


def encode_envelope(batch_id_: str, encoded_events: list[bytes]) -> bytes:
    """Byte-identical to ingestor.envelope.encode(batch_id, events), from events already encoded once."""
    return b"".join((b'{"v":1,"batch_id":', jsoncodec.dumps(batch_id_), b',"events":[',
                     b",".join(encoded_events), b"]}"))


class RecentIds:
    """The last `size` event ids seen, for dropping repeats in O(1)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, eid: str) -> bool:
        """True if `eid` was already seen; otherwise records it."""
        if eid in self._ids:
            return True
        self._ids[eid] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False

    def forget(self, eids: Iterable[str]) -> None:
        """For events that were not kept after all: a backfilled copy must then get through."""
        for eid in eids:
            self._ids.pop(eid, None)


_STOP = object()


@dataclass
class _Window:
    """The events of one window not yet emitted, with what their batch carries besides them."""

    deadline: float
    encoded: list[bytes] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursor: datetime | None = None


class Batcher:
    def __init__(self, size: int, window_ms: int, dedup_size: int, emit: Callable[[Batch], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self.window_us = max(int(window_ms * 1000), 1)
        self.emit = emit
        self.recent = RecentIds(dedup_size)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._live: dict[int, _Window] = {}
        self._backfill: dict[int, _Window] = {}
        self._last_key = 0

    def start(self) -> None:
        self._thread.start()

    def put(self, event: dict[str, Any], source: str = "live") -> None:
        """Never blocks: called from the socket reader thread ("live") and the backfill ("backfill")."""
        self._queue.put((event, source, self.clock()))

    def flush_marker(self) -> threading.Event:
        """An Event set once everything put before this call has been handed to emit()."""
        done = threading.Event()
        self._queue.put(done)
        return done

    def stop(self, timeout: float = 10) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def depth(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            deadlines = [w.deadline for w in (*self._live.values(), *self._backfill.values())]
            timeout = max(min(deadlines) - self.clock(), 0) if deadlines else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:  # nothing arrived before the earliest deadline: that window is complete
                self._flush_due(self.clock())
                continue
            if item is _STOP:
                self._flush_all()
                return
            if isinstance(item, threading.Event):
                self._flush_all()
                item.set()
            else:
                event, source, arrived = item
                self._flush_due(arrived)  # the windows that were complete when this event arrived
                try:
                    self._add(event, source, arrived)
                except Exception:  # one odd event must not stop the flow of all the others
                    log.exception("could not batch an event; skipped")
            _queue_depth.set(self._queue.qsize())

    def _add(self, event: dict[str, Any], source: str, now: float) -> None:
        _received.labels(source).inc()
        try:
            encoded = jsoncodec.dumps(event)
        except jsoncodec.EncodeError as exc:
            self._dead_letter(event, f"event cannot be encoded as JSON ({exc})")
            return
        eid = event_key(event)
        if self.recent.seen(eid):
            _duplicates.inc()
            return
        try:
            fired = parse_timestamp(event.get("time_fired"))
        except ValueError:
            fired = None
        if source == "live":
            window = self._live_window(fired, now)
        else:
            window = self._window(self._backfill, self._key(fired, int(BACKFILL_WINDOW_S * 1e6)),
                                  now + BACKFILL_FLUSH_S)
        window.encoded.append(encoded)
        window.ids.append(eid)
        if source == "live" and fired is not None and (window.cursor is None or fired > window.cursor):
            window.cursor = fired  # backfilled events never move the cursor: they are older than the live ones
        if event.get("event_type") == "state_changed":
            data = event["data"]
            new_state = data.get("new_state")
            if isinstance(new_state, dict) and isinstance(data.get("entity_id"), str):
                window.states[data["entity_id"]] = new_state
        if len(window.ids) >= self.size:
            self._emit(window, source)

    def _key(self, fired: datetime | None, width_us: int) -> int:
        if fired is None:  # an event too odd to have a time joins the current window
            return self._last_key
        micros = int(fired.timestamp() * 1e6)
        return micros // width_us

    def _live_window(self, fired: datetime | None, now: float) -> _Window:
        key = self._key(fired, self.window_us)
        for earlier in sorted(k for k in self._live if k < key):  # HA fires in order: they are complete
            self._emit(self._live.pop(earlier), "live")
        self._last_key = max(self._last_key, key)
        if key not in self._live and fired is not None:
            left_us = (key + 1) * self.window_us - int(fired.timestamp() * 1e6)
            return self._window(self._live, key, now + left_us / 1e6 + GRACE_S)
        return self._window(self._live, key, now + self.window_us / 1e6 + GRACE_S)

    @staticmethod
    def _window(windows: dict[int, _Window], key: int, deadline: float) -> _Window:
        if key not in windows:
            windows[key] = _Window(deadline)
        return windows[key]

    def _flush_due(self, now: float) -> None:
        for windows, source in ((self._live, "live"), (self._backfill, "backfill")):
            for key in sorted(k for k, w in windows.items() if w.deadline <= now):
                self._emit(windows.pop(key), source)

    def _flush_all(self) -> None:
        for windows, source in ((self._backfill, "backfill"), (self._live, "live")):
            for key in sorted(windows):
                self._emit(windows.pop(key), source)

    def _dead_letter(self, event: Any, reason: str) -> None:
        """An event that cannot be forwarded goes to the DLQ (through the outbox, so never lost), not away."""
        dlq_id = subjects.bridge_dlq_id(f"bridge-{uuid.uuid4().hex}")
        record = dlq.record(dlq_id, "gateway-bridge", subjects.RAW, [{"reason": reason, "payload": event}],
                            max_bytes=DEAD_LETTER_BYTES)
        _unencodable.inc()
        log.error("event cannot be encoded: dead-lettered", extra={"dlq_id": dlq_id, "reason": reason})
        self.emit(Batch(subjects.DLQ, dlq_id, record, 1))

    def _emit(self, window: _Window, source: str) -> None:
        """Hand the window's events over as one batch (the window stays usable, empty)."""
        if not window.ids:
            return
        bid = batch_id("raw", window.ids)
        batch = Batch(subjects.RAW, bid, encode_envelope(bid, window.encoded), len(window.ids), window.cursor,
                      window.states, window.ids, encoded=window.encoded, source=source)
        window.encoded, window.ids, window.states, window.cursor = [], [], {}, None
        if not self.emit(batch):
            self.recent.forget(batch.event_ids)
