"""Moving an HA stream of the first layout (limits retention, every subject kept for days, dead letters in it)
to the queue layout of ingestor.streams, in place and without losing a pending message.

Each step can be interrupted and run again (the next start of any part finishes it):
1. HA's subjects become the queue's (the dead-letter subject leaves it; its messages stay stored), so
2. HA_DLQ can take the dead-letter subject, and HA's dead letters are copied to it with their headers (their
   Nats-Msg-Id: a copy run again within the duplicate window is dropped as a duplicate), then purged from HA;
3. HA turns to interest retention: the connector's consumers keep their positions; what every consumer has
   acknowledged goes, everything a consumer has not yet acknowledged stays, however old. The duplicate window
   carries over (same stream), so a publisher's retry of a batch sent before the migration is still recognised.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy
from nats.js.errors import NotFoundError

from ingestor import streams, subjects

log = logging.getLogger(__name__)


async def first_layout(js: JetStreamContext) -> bool:
    """Whether HA exists with the first layout's limits retention."""
    try:
        info = await js.stream_info(subjects.STREAM)
    except NotFoundError:
        return False
    return info.config.retention == RetentionPolicy.LIMITS


async def migrate(js: JetStreamContext) -> None:
    if not await first_layout(js):
        return
    old = (await js.stream_info(subjects.STREAM)).config
    log.warning("migrating the HA stream to the queue layout", extra={"stream": subjects.STREAM})
    old.subjects = list(subjects.STREAM_SUBJECTS)
    await js.update_stream(old)
    await streams.ensure(js, streams.dlq_stream())
    moved = await _move_dead_letters(js)
    await streams.ensure(js, streams.ha_stream())
    state = (await js.stream_info(subjects.STREAM)).state
    log.warning("HA stream migrated: pending messages kept, dead letters moved to HA_DLQ",
                extra={"dead_letters": moved, "messages": state.messages, "bytes": state.bytes})


async def _move_dead_letters(js: JetStreamContext) -> int:
    moved, seq = 0, 0
    while True:
        try:
            msg = await js.get_msg(subjects.STREAM, seq + 1, subject=subjects.DLQ, next=True)
        except NotFoundError:
            break
        await js.publish(subjects.DLQ, msg.data or b"", stream=subjects.DLQ_STREAM, headers=msg.headers)
        seq, moved = msg.seq or seq + 1, moved + 1
    await js.purge_stream(subjects.STREAM, subject=subjects.DLQ)
    return moved
