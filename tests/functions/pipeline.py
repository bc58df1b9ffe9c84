"""What the pipeline functions' tests share: batches as the connector sends them, what a subject then holds."""

from __future__ import annotations

import uuid
from typing import Any

from ingestor import envelope, jsoncodec, subjects
from tests.support.jetstream import JetStreamClient


def batch(events: list[Any], prefix: str = "raw") -> tuple[str, bytes]:
    """A batch id of its own (the stream is shared by the session's tests) and the envelope."""
    batch_id = f"{prefix}-{uuid.uuid4().hex[:12]}"
    return batch_id, envelope.encode(batch_id, events)


def published(stream: JetStreamClient, subject: str, msg_id: str) -> list[Any]:
    """The events published on `subject` as `msg_id` (each stage publishes under its derived batch id)."""
    found = [jsoncodec.loads(m.data)["events"] for m in stream.stored(subject) if m.msg_id == msg_id]
    assert len(found) == 1, f"{len(found)} messages {msg_id} on {subject}"
    return found[0]


def dead_letter(stream: JetStreamClient, dlq_id: str) -> dict[str, Any]:
    (found,) = [jsoncodec.loads(m.data) for m in stream.stored(subjects.DLQ) if m.msg_id == dlq_id]
    return found
