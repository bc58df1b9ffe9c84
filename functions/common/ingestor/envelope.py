"""The batch envelope every subject carries: {"v": 1, "batch_id": str, "events": [...]}.

Batch ids are deterministic along the pipeline (`<root>:<stage>`), so a stage that handles a
redelivered batch publishes under the same Nats-Msg-Id and JetStream drops the duplicate.

A coalesced call (the topic connector's, when a function's subscription has a backlog and the function opts in
with `com.ha-ingestor.coalesce`) carries several queued messages' envelopes, their bytes unchanged, in one body
{"v": 1, "batches": [<envelope>, ...]} under the header COALESCED_HEADER. Each envelope in it is checked as
`parse` checks one and handled as its own batch (`each`): a function answers a coalesced call only when every
batch succeeded, so any failure sends the connector back to calling the messages one by one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ingestor import config, jsoncodec
from ingestor.errors import Invalid, TooLarge

VERSION = 1
COALESCED_HEADER = "X-Ingestor-Coalesced"
"""Set (to the number of batches) on a call whose body is a coalesced document, not one envelope."""
MAX_COALESCED_BATCHES = 64
"""The most envelopes one coalesced call may carry (a function's annotation asks for 4 or so)."""
MAX_COALESCED_BYTES = 512 * 1024
"""The largest coalesced body, well below the template's MAX_BODY_BYTES (8 MiB): waitress, the template's server,
spools a body past 512 KiB (its inbuf_overflow) to a temporary file, which cost more than the calls saved (batches
of 500, 475 KB each, coalesced by 4: 2.23 against 1.96 CPU-seconds per 10,000 events uncoalesced). Coalescing is
for a backlog of small batches (4 of 100 events are 380 KB); a message past it goes alone."""
_COALESCED_HEAD = b'{"v":%d,"batches":[' % VERSION
_COALESCED_TAIL = b"]}"
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
    return _checked(_decoded(body))


def _decoded(body: bytes) -> Any:
    if not body:
        raise Invalid("empty body: expected a batch envelope", code="empty_body")
    try:
        return jsoncodec.loads(body)
    except jsoncodec.JSONDecodeError as exc:
        raise Invalid(f"malformed JSON: {exc}", code="malformed_json") from None


def _checked(doc: Any) -> Batch:
    """One decoded envelope checked: the rules of `parse`, whether it came alone or in a coalesced call."""
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


def coalesce(bodies: list[bytes]) -> bytes:
    """The body of a coalesced call: the messages' envelopes as they are, never decoded or encoded again.

    Joined once: the envelopes joined first and that joined again made two large buffers alive at once, whose
    release let the C allocator hand the memory back and fault it in again for the next call (4 batches of 100,
    381 KB, in a microbenchmark of the same buffers: 320-420 µs a call against 17-21). py-spy found 13% of the
    runtime's samples here with two joins, 9% with one: in the runtime the one buffer is still fresh memory."""
    parts = [_COALESCED_HEAD]
    for body in bodies:
        parts += (body, b",")
    if bodies:
        parts.pop()  # the last comma
    parts.append(_COALESCED_TAIL)
    return b"".join(parts)


def coalesced_size(sizes: int, count: int) -> int:
    """The length of `coalesce` of `count` envelopes of `sizes` bytes in all."""
    return len(_COALESCED_HEAD) + sizes + max(count - 1, 0) + len(_COALESCED_TAIL)


def parse_coalesced(body: bytes) -> list[Batch]:
    """Decode and check a coalesced body: each of its envelopes as `parse` checks one (ENVELOPE_MAX_EVENTS per
    batch), at most MAX_COALESCED_BATCHES of them in at most MAX_COALESCED_BYTES. Invalid or TooLarge naming what
    is wrong, and which batch."""
    if len(body) > MAX_COALESCED_BYTES:
        raise TooLarge(f"a coalesced call of {len(body)} bytes, the limit is {MAX_COALESCED_BYTES}",
                       code="coalesced_too_large")
    doc = _decoded(body)
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        raise Invalid(f'a coalesced call must be a JSON object {{"v": {VERSION}, "batches": [...]}}',
                      code="bad_envelope")
    docs = doc.get("batches")
    if not isinstance(docs, list) or not docs:
        raise Invalid("batches must be a non-empty list", code="bad_envelope")
    if len(docs) > MAX_COALESCED_BATCHES:
        raise TooLarge(f"a coalesced call of {len(docs)} batches, the limit is {MAX_COALESCED_BATCHES}",
                       code="coalesced_too_large")
    batches = []
    for index, item in enumerate(docs):
        try:
            batches.append(_checked(item))
        except (Invalid, TooLarge) as exc:
            raise type(exc)(f"batch {index}: {exc.message}", code=exc.code) from None
    return batches


def each(body: bytes, headers: Mapping[str, str], handle: Callable[[Batch], dict[str, Any]]) -> dict[str, Any]:
    """`handle` applied to the call's batch, or to each batch of a coalesced call in order: its answer, or
    {"batches": [its answer for each]}. A batch that fails raises and fails the call (the connector then calls
    its messages one by one, and the batches handled before it are handled again, under the same ids)."""
    if headers.get(COALESCED_HEADER) is None:
        return handle(parse(body))
    return {"batches": [handle(batch) for batch in parse_coalesced(body)]}


def derive_id(parent_id: str, stage: str) -> str:
    """The id of what `stage` publishes for the batch `parent_id`: stable across redeliveries."""
    return f"{parent_id.split(':', 1)[0]}:{stage}"


def encode(batch_id: str, events: list[Any]) -> bytes:
    return jsoncodec.dumps({"v": VERSION, "batch_id": batch_id, "events": events})
