"""Micro-batches for ha.events.raw: flushed at N events or T milliseconds, deduplicated by event_id.

Runs on its own thread behind an unbounded queue, so the socket reader only ever appends. Each
event keeps HA's exact shape; its deterministic event_id is used to drop repeats (a backfilled
state the bridge already forwarded live) and to name the batch, so re-publishing the same batch
(spool replay after a lost ack) is dropped by JetStream's duplicate window.
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


class Batcher:
    def __init__(self, size: int, max_ms: int, dedup_size: int, emit: Callable[[Batch], bool]) -> None:
        self.size = size
        self.max_wait = max_ms / 1000
        self.emit = emit
        self.recent = RecentIds(dedup_size)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._pending: list[bytes] = []
        self._ids: list[str] = []
        self._states: dict[str, dict[str, Any]] = {}
        self._cursor: datetime | None = None
        self._first_at = 0.0

    def start(self) -> None:
        self._thread.start()

    def put(self, event: dict[str, Any], source: str = "live") -> None:
        """Never blocks: called from the socket reader thread."""
        self._queue.put((event, source))

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
            timeout = None
            if self._pending:
                timeout = max(self._first_at + self.max_wait - time.monotonic(), 0)
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._flush()
                continue
            if item is _STOP:
                self._flush()
                return
            if isinstance(item, threading.Event):
                self._flush()
                item.set()
                continue
            try:
                self._add(*item)
            except Exception:  # one odd event must not stop the flow of all the others
                log.exception("could not batch an event; skipped")
            if len(self._pending) >= self.size:
                self._flush()
            _queue_depth.set(self._queue.qsize())

    def _add(self, event: dict[str, Any], source: str) -> None:
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
        if not self._pending:
            self._first_at = time.monotonic()
        self._pending.append(encoded)
        self._ids.append(eid)
        try:
            fired = parse_timestamp(event.get("time_fired"))
        except ValueError:
            fired = None
        if fired is not None and (self._cursor is None or fired > self._cursor):
            self._cursor = fired
        if event.get("event_type") == "state_changed":
            data = event["data"]
            new_state = data.get("new_state")
            if isinstance(new_state, dict) and isinstance(data.get("entity_id"), str):
                self._states[data["entity_id"]] = new_state

    def _dead_letter(self, event: Any, reason: str) -> None:
        """An event that cannot be forwarded goes to the DLQ (through the outbox, so never lost), not away."""
        dlq_id = subjects.bridge_dlq_id(f"bridge-{uuid.uuid4().hex}")
        record = dlq.record(dlq_id, "gateway-bridge", subjects.RAW, [{"reason": reason, "payload": event}],
                            max_bytes=DEAD_LETTER_BYTES)
        _unencodable.inc()
        log.error("event cannot be encoded: dead-lettered", extra={"dlq_id": dlq_id, "reason": reason})
        self.emit(Batch(subjects.DLQ, dlq_id, record, 1))

    def _flush(self) -> None:
        if not self._pending:
            return
        bid = batch_id("raw", self._ids)
        batch = Batch(subjects.RAW, bid, encode_envelope(bid, self._pending), len(self._pending),
                      self._cursor, self._states, self._ids, self._pending)
        self._pending, self._ids, self._states, self._cursor = [], [], {}, None
        if not self.emit(batch):
            self.recent.forget(batch.event_ids)
