"""The batch envelope every subject carries: {"v": 1, "batch_id": str, "events": [...]}.

Batch ids are deterministic along the pipeline (`<root>:<stage>`), so a stage that handles a
redelivered batch publishes under the same Nats-Msg-Id and JetStream drops the duplicate.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ingestor import config, jsoncodec
from ingestor.errors import Invalid, TooLarge

VERSION = 1
_BATCH_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


@dataclass(frozen=True)
class Batch:
    batch_id: str
    events: list[Any]


@functools.cache
def max_events() -> int:
    """ENVELOPE_MAX_EVENTS (10,000): the most events one batch may hold; read once per process."""
    return config.env_int("ENVELOPE_MAX_EVENTS", 10_000)


def parse(body: bytes) -> Batch:
    """Decode and check an envelope: Invalid (TooLarge past the event limit) naming what is wrong."""
    if not body:
        raise Invalid("empty body: expected a batch envelope", code="empty_body")
    try:
        doc = jsoncodec.loads(body)
    except jsoncodec.JSONDecodeError as exc:
        raise Invalid(f"malformed JSON: {exc}", code="malformed_json") from None
    if not isinstance(doc, dict):
        raise Invalid("envelope must be a JSON object", code="bad_envelope")
    if doc.get("v") != VERSION:
        raise Invalid(f"envelope version must be {VERSION}, got {doc.get('v')!r}", code="bad_envelope")
    batch_id = doc.get("batch_id")
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        raise Invalid("batch_id must match [A-Za-z0-9_.:-]{1,200}", code="bad_envelope")
    events = doc.get("events")
    if not isinstance(events, list) or not events:
        raise Invalid("events must be a non-empty list", code="bad_envelope")
    limit = max_events()
    if len(events) > limit:
        raise TooLarge(f"batch holds {len(events)} events, the limit is {limit}", code="batch_too_large")
    return Batch(batch_id, events)


def derive_id(parent_id: str, stage: str) -> str:
    """The id of what `stage` publishes for the batch `parent_id`: stable across redeliveries."""
    return f"{parent_id.split(':', 1)[0]}:{stage}"


def encode(batch_id: str, events: list[Any]) -> bytes:
    return jsoncodec.dumps({"v": VERSION, "batch_id": batch_id, "events": events})
