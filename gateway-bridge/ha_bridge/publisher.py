"""The outbox: batches go to JetStream in order, and count as sent only once JetStream acknowledges them.

While NATS answers, batches wait in memory for their ack. When a publish fails (NATS away, or the queue full and
refusing new messages: ingestor.streams), every batch not yet acknowledged moves to the on-disk spool (in front
of anything already there), and every later batch is spooled too, until the spool has been replayed, oldest
first; /health says which of the two it is (queue_full). A batch that can never fit in a
NATS message (one event above max_payload) is dead-lettered with its reason instead of blocking the
queue forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from ha_bridge.batcher import Batch, encode_envelope
from ha_bridge.spool import Spool
from ha_bridge.state import BridgeState
from ingestor import dlq, jsoncodec, metrics, streams, subjects
from ingestor.bus import PAYLOAD_MARGIN, Bus
from ingestor.errors import Unavailable

log = logging.getLogger(__name__)

_batches = metrics.counter("bridge_batches_published_total", "Batches acknowledged by JetStream", ["subject"])
_events = metrics.counter("bridge_events_published_total", "Events in batches acknowledged by JetStream", ["subject"])
_spooled = metrics.counter("bridge_batches_spooled_total", "Batches written to the on-disk spool")
_dropped = metrics.counter("bridge_spool_refused_events_total",
                           "Events refused because the spool was full (state changes among them are backfilled)")
_dead = metrics.counter("bridge_dead_lettered_events_total", "Events too large for a NATS message, dead-lettered")
_spool_depth = metrics.gauge("bridge_spool_depth", "Batches waiting in the on-disk spool")
_spool_bytes = metrics.gauge("bridge_spool_bytes", "Bytes in the on-disk spool")
_nats_up = metrics.gauge("bridge_nats_up", "1 while publishes to JetStream succeed")
_latency = metrics.histogram("bridge_publish_seconds", "Time from publish to JetStream ack, per batch",
                             buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))

NO_READER = f"no function reads {subjects.RAW} yet (validate not subscribed by the topic connector)"
PAUSE_FRACTION = 0.9  # spool this full: stop reading HA (the gap is backfilled later)
RESUME_FRACTION = 0.5


def summary(event: Any, size: int) -> dict[str, Any]:
    """What is kept of an event too large to carry: enough to find it in HA's own history."""
    if not isinstance(event, dict):
        return {"bytes": size}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    return {"event_type": event.get("event_type"), "time_fired": event.get("time_fired"),
            "context": event.get("context"), "entity_id": data.get("entity_id"), "bytes": size}


class Outbox:
    def __init__(self, bus: Bus, spool: Spool, state: BridgeState, nats_url: str) -> None:
        self.bus = bus
        self.spool = spool
        self.state = state
        self.nats_url = nats_url
        self.down = False
        self.refusing = False
        self.last_error: str | None = None
        self.queue_full = False  # the last publish was refused because the queue is at its bounds
        self._memory: deque[Batch] = deque()
        self._cond = threading.Condition()
        self._put = 0  # batches accepted so far; each batch's number is its position
        self._waiting: deque[int] = deque()  # numbers of the batches in memory, not yet durable
        self.refused = 0  # batches refused because the spool was full
        self._wake = threading.Event()
        self._stopping = False
        self._deadline = 0.0
        self._stream_ready = False
        self._raw_read = False  # a function's consumer of raw events was seen (streams.has_reader)
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        _spool_depth.set(spool.depth)
        _spool_bytes.set(spool.bytes)

    def start(self) -> None:
        self._thread.start()

    # -- intake (batcher and session threads) -------------------------------------------------------

    def put(self, batch: Batch) -> bool:
        """Queue a batch; never waits on NATS. Spools it when NATS is down or the spool is not empty.

        False when the spool is full: the batch is refused, and so is every later one until the spool
        has drained to half, so the cursor stays before all of them and backfill recovers their state
        changes (the session disconnects from HA meanwhile).
        """
        with self._cond:
            if self.down or self.spool.depth:
                if self.refusing and self.spool.bytes < self.spool.max_bytes * RESUME_FRACTION:
                    self.refusing = False
                if self.refusing or self.spool.bytes + len(batch.payload) > self.spool.max_bytes:
                    if not self.refusing:
                        log.error("spool full: refusing batches until it drains; state changes will be backfilled",
                                  extra={"spool_bytes": self.spool.bytes, "max_bytes": self.spool.max_bytes})
                    self.refusing = True
                    self.refused += 1
                    _dropped.inc(batch.count)
                    return False
                self._put += 1
                self.spool.append(batch)
                _spooled.inc()
                self._durable(batch)
                self._gauges()
            else:
                self._put += 1
                self._memory.append(batch)
                self._waiting.append(self._put)
            self._cond.notify_all()
        return True

    def accepted(self) -> int:
        """How many batches have been accepted so far: a mark to wait for with wait_durable()."""
        with self._cond:
            return self._put

    def wait_durable(self, mark: int, timeout: float) -> bool:
        """Whether every batch accepted up to `mark` is durable (acknowledged or spooled) within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting and self._waiting[0] <= mark:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def paused(self, currently: bool) -> bool:
        """Whether reading HA should stop so the spool stays bounded (hysteresis between 90% and 50%)."""
        fraction = self.spool.bytes / self.spool.max_bytes
        return self.refusing or fraction >= (RESUME_FRACTION if currently else PAUSE_FRACTION)

    def figures(self) -> dict[str, Any]:
        """For /health, read together so they agree with each other."""
        with self._cond:
            return {"nats_publishing": not self.down, "nats_error": self.last_error, "queue_full": self.queue_full,
                    "spool_depth": self.spool.depth, "spool_bytes": self.spool.bytes,
                    "unacknowledged_batches": len(self._memory)}

    # -- sending (own thread) -----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.5
        while True:
            idle = False
            with self._cond:
                while not self._memory and not self.spool.depth and not self._stopping and not idle:
                    idle = not self._cond.wait(self.state.save_states_every_s)
            if idle:
                self.state.save()  # a quiet moment: bound how stale the saved last known states can be
                continue
            with self._cond:
                if self._stopping and (not self._memory or time.monotonic() > self._deadline):
                    self._spill()
                    return
                from_spool = not self._memory
                batch = self._memory[0] if self._memory else None
            if from_spool:
                if self._stopping:
                    return  # the spool stays on disk for the next start
                batch = self._spool_head()
                if batch is None:
                    continue
            assert batch is not None
            ok = self._publish(batch)
            with self._cond:
                if ok:
                    if from_spool:
                        self.spool.pop()
                    else:
                        self._memory.popleft()
                        self._waiting.popleft()
                        self._durable(batch)
                        self._cond.notify_all()
                    if self.refusing and self.spool.bytes < self.spool.max_bytes * RESUME_FRACTION:
                        self.refusing = False
                    if self.down and not self.spool.depth:
                        self.down = False
                        log.info("NATS is back: spool replayed")
                    backoff = 0.5
                else:
                    self.down = True
                    if not from_spool:
                        self._spill()
                self._gauges()
            if not ok:
                self._wake.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _spill(self) -> None:
        """Move every unacknowledged in-memory batch to the front of the spool (caller holds the lock)."""
        if not self._memory:
            return
        batches = list(self._memory)
        self._memory.clear()
        self.spool.push_front(batches)
        self._waiting.clear()
        self._cond.notify_all()
        _spooled.inc(len(batches))
        for batch in batches:
            self._durable(batch)
        log.warning("NATS unavailable: batches spooled to disk", extra={"batches": len(batches),
                                                                         "spool_depth": self.spool.depth})

    def _spool_head(self) -> Batch | None:
        try:
            return self.spool.peek()
        except (OSError, ValueError, KeyError, TypeError):
            with self._cond:
                self.spool.drop_corrupt_head()
            return None

    def _durable(self, batch: Batch) -> None:
        self.state.advance(batch.cursor, batch.states)
        self.state.save()

    def _gauges(self) -> None:
        _spool_depth.set(self.spool.depth)
        _spool_bytes.set(self.spool.bytes)
        _nats_up.set(0 if self.down else 1)

    def _publish(self, batch: Batch) -> bool:
        started = time.perf_counter()
        try:
            if not self._stream_ready:  # a fresh (or wiped) NATS must not leave publishes unanswered
                self.bus.call(streams.ensure_all)  # on the bus's own connection
                self._stream_ready = True
            if batch.subject == subjects.RAW and not self._raw_read:
                if not self.bus.call(lambda js: streams.has_reader(js, subjects.RAW)):
                    raise Unavailable(NO_READER, code="no_reader")  # the queue would not keep them
                self._raw_read = True
            limit = self.bus.max_payload - PAYLOAD_MARGIN
            if len(batch.payload) <= limit:
                self.bus.publish(batch.subject, batch.payload, batch.batch_id)
            else:  # split from the events encoded once; a batch read back from the spool is decoded once
                encoded = batch.encoded or [jsoncodec.dumps(e) for e in jsoncodec.loads(batch.payload)["events"]]
                self._publish_split(batch.subject, batch.batch_id, encoded, limit)
        except (Unavailable, OSError, TimeoutError) as exc:
            full = isinstance(exc, Unavailable) and exc.code == "queue_full"
            self._stream_ready = self._raw_read = full  # a full queue is there; else maybe a NATS started afresh
            self.last_error = f"{type(exc).__name__}: {exc}"
            if not self.down or full != self.queue_full:
                log.warning("the queue is full; spooling until the stages have made room" if full
                            else "publish failed; spooling until NATS answers", extra={"error": self.last_error})
            self.queue_full = full
            return False
        self.queue_full = False
        _latency.observe(time.perf_counter() - started)
        _batches.labels(batch.subject).inc()
        _events.labels(batch.subject).inc(batch.count)
        self.last_error = None
        return True

    def _publish_split(self, subject: str, batch_id: str, events: list[bytes], limit: int) -> None:
        """Halve deterministically (`<id>.0`, `<id>.1`) like Bus.publish_batch; dead-letter a lone giant."""
        payload = encode_envelope(batch_id, events)
        if len(payload) <= limit:
            self.bus.publish(subject, payload, batch_id)
        elif len(events) == 1:
            reason = f"event of {len(payload)} bytes exceeds the NATS message limit of {limit} bytes"
            record = dlq.record(subjects.bridge_dlq_id(batch_id), "gateway-bridge", subject,
                                [{"reason": reason, "payload": summary(jsoncodec.loads(events[0]), len(payload))}],
                                max_bytes=limit)
            self.bus.publish(subjects.DLQ, record, subjects.bridge_dlq_id(batch_id))
            _dead.inc()
            log.error("event too large for NATS: dead-lettered", extra={"batch_id": batch_id, "bytes": len(payload)})
        else:
            half = len(events) // 2
            self._publish_split(subject, f"{batch_id}.0", events[:half], limit)
            self._publish_split(subject, f"{batch_id}.1", events[half:], limit)

    # -- stopping -----------------------------------------------------------------------------------

    def close(self, grace: float) -> None:
        """Try to deliver what is in memory for `grace` seconds; spool the rest, so nothing is lost."""
        with self._cond:
            self._stopping = True
            self._deadline = time.monotonic() + grace
            self._cond.notify_all()
        self._wake.set()
        self._thread.join(grace + self.bus.timeout + 5)
        with self._cond:
            self._spill()
        self.state.save(force=True)
