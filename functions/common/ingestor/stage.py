"""A pipeline stage, declared: what it reads, how it checks each event, where what passes goes.

Every stage (validate, normalize, weather-enrich, write, metadata-sync) differs only in its per-event check
and where what passes goes, so batch handling, dead-lettering, counting and the answer live here once and a
stage's handler is its declaration:

    STAGE = Stage("validate", subjects.RAW, validation.checker(RULES), target=subjects.VALID)
    handle, health = STAGE.handle, STAGE.health
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingestor import bus, dlq, envelope, jsoncodec, metrics, subjects
from ingestor.errors import Invalid, Refused
from ingestor.responses import json_response

Check = Callable[[Any], Any]
"""One event in, what passes on for it out (the event, or what the stage makes of it); raises Invalid naming
why an event cannot pass."""
Deliver = Callable[[str, list[Any]], None]
"""Hands on what passed, under the stage's batch id (e.g. writes it to a store)."""
DeliverAll = Callable[[list[tuple[str, list[Any]]]], None]
"""Hands on what passed of every batch of a call, each under its batch id, at once (e.g. one store transaction)."""
Amend = Callable[[list[Any]], list[Any]]
"""What passed, amended as a batch before it is handed on (e.g. the context values attached once per batch)."""

_events = metrics.counter("stage_events_total", "Events handled by a stage, by outcome", ["stage", "outcome"])


@dataclass(frozen=True)
class Stage:
    name: str
    """Also the suffix of the batch ids it publishes (ingestor.envelope.derive_id) and its dead letters' stage."""
    source: str
    """The subject it reads, named in dead letters when the connector's X-Nats-Subject header is absent."""
    check: Check
    target: str | None = None
    """The subject what passes is published on, idempotently under the derived batch id; or else:"""
    deliver: Deliver | None = None
    deliver_all: DeliverAll | None = None
    """Or else: every batch of a call (a coalesced call's several) delivered in one hand-off once all of them have
    passed their checks, as a target stage publishes them together. write's store then takes a coalesced call in one
    transaction instead of one per batch (its begin, dedup query, commit and compaction check once: the SQLite store
    took 19-25 µs of CPU an event for 4 batches of 100 written at once against 28-30 one by one, 2026-12-02). A batch
    Refused delivers none of them; the connector then calls the messages one by one, under the same ids, so what
    ends up delivered is the same."""
    amend: Amend | None = None
    max_depth: int | None = jsoncodec.MAX_DEPTH
    """An event nested deeper is rejected before the check sees it, so nothing a stage does (hashing, storing,
    publishing) ever serializes a value JSON cannot carry. None: the check bounds depth itself (validate's)."""
    health: Callable[[], dict[str, Any]] | None = None
    """The function's /_/health; by default the stage is alive when it answers (NATS connected or not)."""

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.target, self.deliver, self.deliver_all)) != 1:
            raise ValueError(f"stage {self.name}: give a target subject, a deliver or a deliver_all function, one of "
                             "them")
        if self.health is None:
            object.__setattr__(self, "health", self._alive)

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        """Handle one batch (the request `event`), or each batch of a coalesced call in turn (ingestor.envelope):
        deliver what passes and dead-letter the rest.

        A batch in which no event passes is Refused with every reason, so the caller (or the topic connector,
        which dead-letters the whole message) sees why; nothing is delivered then.
        """
        source = event.headers.get("X-Nats-Subject") or self.source
        outgoing: list[bus.Message] = []
        delivering: list[tuple[str, list[Any]]] = []
        answer = envelope.each(event.body, event.headers,
                               lambda batch: self.batch(batch, source, outgoing, delivering))
        if outgoing:  # every batch's message, under its own id, in one hand-off to the bus
            bus.default().publish_all(outgoing)
        if delivering and self.deliver_all is not None:  # every batch's events in one hand-off too
            self.deliver_all(delivering)
        if outgoing or delivering:
            _events.labels(self.name, "out").inc(sum(b["accepted"] for b in answer.get("batches", [answer])))
        return json_response(answer)

    def batch(self, batch: envelope.Batch, source: str, outgoing: list[bus.Message],
              delivering: list[tuple[str, list[Any]]]) -> dict[str, Any]:
        """One batch handled: its answer's body; what passed is delivered, or its message for the target added to
        `outgoing`, or it is added to `delivering` (deliver_all). Raises Refused when no event of it passed."""
        passed: list[Any] = []
        rejected: list[dict[str, Any]] = []
        limit = self.max_depth  # asked of the whole batch at once; of each event only when it is too deep
        each = limit is not None and jsoncodec.nested_deeper_than(batch.events, limit + 1)
        for index, item in enumerate(batch.events):
            try:
                too_deep = jsoncodec.depth_problem(item, limit) if each and limit is not None else None
                if too_deep:
                    raise Invalid(f"event: {too_deep}")
                passed.append(self.check(item))
            except Invalid as exc:
                rejected.append({"index": index, "reason": str(exc), "payload": item})
        _events.labels(self.name, "in").inc(len(batch.events))
        _events.labels(self.name, "rejected").inc(len(rejected))
        reasons = [{"index": r["index"], "reason": r["reason"]} for r in rejected]
        if not passed:
            raise Refused(f"no event of batch {batch.batch_id} passed {self.name}", code="no_valid_event",
                          details=reasons)
        out_id = envelope.derive_id(batch.batch_id, self.name)
        if rejected:
            nats, dlq_id = bus.default(), subjects.stage_dlq_id(out_id)
            record = dlq.record(dlq_id, self.name, source, rejected, max_bytes=nats.max_payload - bus.PAYLOAD_MARGIN)
            nats.publish(subjects.DLQ, record, dlq_id)
        if self.amend is not None:
            passed = self.amend(passed)
        if self.deliver is not None:
            self.deliver(out_id, passed)
            _events.labels(self.name, "out").inc(len(passed))
        elif self.deliver_all is not None:
            delivering.append((out_id, passed))
        else:
            outgoing.extend(bus.default().envelopes(self.target or "", out_id, passed))
        return {"batch_id": out_id, "accepted": len(passed), "rejected": len(rejected), "rejections": reasons}

    @staticmethod
    def _alive() -> dict[str, Any]:
        """A stage is alive when its process answers; whether NATS is connected is shown, not judged."""
        return {"status": "ok", "nats_connected": bus.default().is_connected()}
