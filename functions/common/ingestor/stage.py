"""One pipeline stage step: transform each event of a batch, forward the good, dead-letter the bad.

Every stage (validate, normalize, weather-enrich, write, metadata-sync) differs only in its per-event
transform and where what passes goes, so batch handling, dead-lettering and counting live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingestor import bus, dlq, envelope, jsoncodec, metrics, subjects
from ingestor.errors import Refused
from ingestor.responses import json_response

Transform = Callable[[Any], tuple[Any, str | None]]
"""Returns (output, None) for an event that passes, (None, reason) for one that is rejected."""
Deliver = Callable[[str, list[Any]], None]
"""Hands on what passed, under the stage's batch id: publish it, or write it to a store."""

_events = metrics.counter("stage_events_total", "Events handled by a stage, by outcome", ["stage", "outcome"])


def publisher(target: str) -> Deliver:
    """Deliver by publishing on `target`, idempotently under the derived batch id."""

    def deliver(batch_id: str, events: list[Any]) -> None:
        bus.default().publish_batch(target, batch_id, events)

    return deliver


def run(event: Any, stage: str, source: str, deliver: Deliver, transform: Transform,
        max_depth: int = jsoncodec.MAX_DEPTH) -> dict[str, Any]:
    """Handle one batch (the request `event`); deliver what passes and dead-letter the rest.

    `source` names the subject in dead letters when the connector's X-Nats-Subject header is absent.
    An event nested deeper than `max_depth` is rejected before the transform sees it, so nothing a
    stage does (hashing, storing, publishing) ever serializes a value JSON cannot carry.

    A batch in which no event passes is Refused with every reason, so the caller (or the
    topic connector, which dead-letters the whole message) sees why; nothing is published then.
    """
    batch = envelope.parse(event.body)
    source = event.headers.get("X-Nats-Subject") or source
    passed: list[Any] = []
    rejected: list[dict[str, Any]] = []
    for index, event in enumerate(batch.events):
        too_deep = jsoncodec.depth_problem(event, max_depth)
        output, reason = (None, f"event: {too_deep}") if too_deep else transform(event)
        if reason is None:
            passed.append(output)
        else:
            rejected.append({"index": index, "reason": reason, "payload": event})
    _events.labels(stage, "in").inc(len(batch.events))
    _events.labels(stage, "rejected").inc(len(rejected))
    if not passed:
        details = [{"index": r["index"], "reason": r["reason"]} for r in rejected]
        raise Refused(f"no event of batch {batch.batch_id} passed {stage}", code="no_valid_event", details=details)
    out_id = envelope.derive_id(batch.batch_id, stage)
    if rejected:
        nats, dlq_id = bus.default(), subjects.stage_dlq_id(out_id)
        record = dlq.record(dlq_id, stage, source, rejected, max_bytes=nats.max_payload - bus.PAYLOAD_MARGIN)
        nats.publish(subjects.DLQ, record, dlq_id)
    deliver(out_id, passed)
    _events.labels(stage, "out").inc(len(passed))
    return json_response({"batch_id": out_id, "accepted": len(passed), "rejected": len(rejected),
                          "rejections": [{"index": r["index"], "reason": r["reason"]} for r in rejected]})


def health() -> dict[str, Any]:
    """A stage is alive when its process answers; whether NATS is connected is shown, not judged."""
    return {"status": "ok", "nats_connected": bus.default().is_connected()}
