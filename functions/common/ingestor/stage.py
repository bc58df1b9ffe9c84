"""One pipeline stage step: transform each event of a batch, forward the good, dead-letter the bad.

validate and normalize (and later stages) differ only in their per-event transform, so the
batch handling, idempotent publishing and counting live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingestor import bus, dlq, envelope, metrics
from ingestor.responses import BadRequest, json_response

Transform = Callable[[Any], tuple[Any, str | None]]
"""Returns (output, None) for an event that passes, (None, reason) for one that is rejected."""

_events = metrics.counter("stage_events_total", "Events handled by a stage, by outcome", ["stage", "outcome"])


def run(body: bytes, stage: str, source: str, target: str, transform: Transform) -> dict[str, Any]:
    """Handle one batch from `source`; publish results on `target` and rejects on the DLQ.

    A batch in which no event passes is answered 422 with every reason, so the caller (or the
    topic connector, which dead-letters the whole message) sees why; nothing is published then.
    """
    batch = envelope.parse(body)
    passed: list[Any] = []
    rejected: list[dict[str, Any]] = []
    for index, event in enumerate(batch.events):
        output, reason = transform(event)
        if reason is None:
            passed.append(output)
        else:
            rejected.append({"index": index, "reason": reason, "payload": event})
    _events.labels(stage, "in").inc(len(batch.events))
    _events.labels(stage, "rejected").inc(len(rejected))
    if not passed:
        details = [{"index": r["index"], "reason": r["reason"]} for r in rejected]
        raise BadRequest(f"no event of batch {batch.batch_id} passed {stage}", code="no_valid_event",
                         details=details, status=422)
    nats = bus.default()
    out_id = envelope.derive_id(batch.batch_id, stage)
    if rejected:
        nats.publish(dlq.SUBJECT, dlq.record(f"{out_id}:dlq", stage, source, rejected), f"{out_id}:dlq")
    nats.publish_batch(target, out_id, passed)
    _events.labels(stage, "out").inc(len(passed))
    return json_response({"batch_id": out_id, "accepted": len(passed), "rejected": len(rejected),
                          "rejections": [{"index": r["index"], "reason": r["reason"]} for r in rejected]})


def health() -> dict[str, Any]:
    """A stage is alive when its process answers; whether NATS is connected is shown, not judged."""
    return {"status": "ok", "nats_connected": bus.default().is_connected()}
