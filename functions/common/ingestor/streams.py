"""The queue's JetStream streams and its consumers' shape, declared once for the bridge, functions and connector.

HA is the pipeline's queue: interest retention (a message goes once every consumer of its subject has
acknowledged it), no age limit (a backlog waits however long its stage is down) and, at its bounds (messages
per subject, bytes in all), new publishes refused (DiscardPolicy.NEW): publishers spool or retry, nothing
accepted is discarded.
HA_REPLAY copies the raw events from HA for a window (24 h) for replay and the bridge's backfill; it is a
copy, so it may age out. HA_DLQ keeps dead letters for days. docs/design.md ("The queue") says why.

Interest retention keeps a message only for the consumers that exist when it arrives: the topic connector
creates the consumers of all its functions before it invokes any (so a stage's output always finds the next
stage's consumer), and the bridge holds raw events in its spool while no function reads them (has_reader).
Everything that publishes or consumes calls ensure_all() first; an HA stream of the first layout (limits
retention, dead letters in it) is migrated in place on the way (ingestor.migration).
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StoreCompression,
    StreamConfig,
    StreamSource,
    StreamState,
)
from nats.js.errors import BadRequestError, NotFoundError

from ingestor import config, subjects

log = logging.getLogger(__name__)

HA_STREAM = subjects.STREAM
HOUR = 3600
DAY = 86_400
CONSUMER_ACK_WAIT_S = 60.0
"""A consumer's ack wait where no function's timeout sets it (the connector: the function's timeout + 30 s)."""
CONSUMER_MAX_ACK_PENDING = 16


def _duplicate_window() -> float:
    return config.env_float("STREAM_DUPLICATE_WINDOW_S", 1200)


def ha_stream() -> StreamConfig:
    """The queue: each subject bounded on its own (a stage whose output is full waits while the stages after it
    drain theirs, so a full queue never deadlocks), the whole by size as a backstop; when full, new messages are
    refused, never accepted ones dropped."""
    return StreamConfig(
        name=HA_STREAM,
        subjects=list(subjects.STREAM_SUBJECTS),
        retention=RetentionPolicy.INTEREST,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        discard_new_per_subject=True,
        max_msgs_per_subject=config.env_int("STREAM_MAX_MSGS_PER_SUBJECT", 200_000),
        max_age=0,
        max_bytes=config.env_int("STREAM_MAX_BYTES", 6 * 1024**3),
        duplicate_window=_duplicate_window(),
        compression=StoreCompression.S2,
    )


def replay_stream() -> StreamConfig:
    """The raw events of the last REPLAY_HOURS, sourced from HA (a copy: its oldest age out, DiscardPolicy.OLD)."""
    max_age = config.env_float("REPLAY_HOURS", 24) * HOUR
    return StreamConfig(
        name=subjects.REPLAY_STREAM,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age,
        duplicate_window=min(max_age, 60),  # HA dropped the duplicates already; JetStream wants it <= max_age
        max_bytes=config.env_int("REPLAY_MAX_BYTES", 2 * 1024**3),
        sources=[StreamSource(name=HA_STREAM, filter_subject=subjects.RAW)],
        compression=StoreCompression.S2,
    )


def dlq_stream() -> StreamConfig:
    """Dead letters for DLQ_MAX_AGE_DAYS; when full, a new dead letter is refused (its stage retries)."""
    return StreamConfig(
        name=subjects.DLQ_STREAM,
        subjects=[subjects.DLQ],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_age=config.env_float("DLQ_MAX_AGE_DAYS", 30) * DAY,
        max_bytes=config.env_int("DLQ_MAX_BYTES", 512 * 1024**2),
        duplicate_window=_duplicate_window(),
        compression=StoreCompression.S2,
    )


def consumer_config(function: str, subject: str, ack_wait: float = CONSUMER_ACK_WAIT_S,
                    max_ack_pending: int = CONSUMER_MAX_ACK_PENDING) -> ConsumerConfig:
    """The durable pull consumer feeding `function` from `subject` (the topic connector tunes ack_wait and
    max_ack_pending to the function's timeout and concurrency)."""
    return ConsumerConfig(durable_name=subjects.durable_name(function, subject), filter_subject=subject,
                          ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait,
                          max_deliver=-1, max_ack_pending=max_ack_pending)


async def ensure(js: JetStreamContext, stream: StreamConfig) -> None:
    """Create the stream, or bring an existing one to this configuration (idempotent). Bounds lowered below what
    a DiscardPolicy.NEW stream holds are raised to it: JetStream would drop the excess at once."""
    try:
        info = await js.stream_info(stream.name, subjects_filter=">")
    except NotFoundError:
        try:
            await js.add_stream(stream)
            return
        except BadRequestError as exc:
            if exc.err_code != 10058:  # made meanwhile by another part, with a different configuration
                raise
            info = await js.stream_info(stream.name, subjects_filter=">")
    if stream.discard == DiscardPolicy.NEW:
        _not_below_held(stream, info.state)
    await js.update_stream(stream)


def _not_below_held(stream: StreamConfig, state: StreamState) -> None:
    largest = max((state.subjects or {}).values(), default=0)
    if stream.max_msgs_per_subject and 0 < stream.max_msgs_per_subject < largest:
        log.warning("a subject holds more messages than its bound: the bound stays at what it holds until drained",
                    extra={"stream": stream.name, "bound": stream.max_msgs_per_subject, "held": largest})
        stream.max_msgs_per_subject = largest
    if stream.max_bytes and 0 < stream.max_bytes < state.bytes:
        log.warning("the stream holds more bytes than its bound: the bound stays at what it holds until drained",
                    extra={"stream": stream.name, "bound": stream.max_bytes, "held": state.bytes})
        stream.max_bytes = state.bytes


async def has_reader(js: JetStreamContext, subject: str) -> bool:
    """Whether some function's consumer reads `subject` (the replay stream's copy does not count)."""
    return any(info.config.filter_subject == subject and subjects.function_of(info.name)
               for info in await js.consumers_info(HA_STREAM))


async def ensure_all(js: JetStreamContext) -> None:
    """The queue's streams, and the migration of a first-layout HA."""
    from ingestor import migration  # it builds on this module's declarations

    await migration.migrate(js)
    await ensure(js, dlq_stream())
    await ensure(js, ha_stream())
    await ensure(js, replay_stream())
    await _replay_sourcing(js)


async def _replay_sourcing(js: JetStreamContext, within: float = 5.0) -> None:
    """Wait (bounded) until the replay stream's source has reached HA: a raw event that validate acknowledges
    before then is not copied."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        sources = (await js.stream_info(subjects.REPLAY_STREAM)).sources or []
        if sources and sources[0].active is not None and sources[0].active >= 0:
            return
        await asyncio.sleep(0.05)
    log.warning("the replay stream has not reached HA yet: raw events consumed meanwhile are not replayable")

