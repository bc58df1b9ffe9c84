"""What is already on ha.events.raw: the ids a backfill must not forward again.

With two replicas, one restarted after a crash backfills a gap the other one covered live. Forwarding the
history's copies again would cost the whole pipeline's work for nothing and, in InfluxDB, where a rewrite
overwrites a point, replace the live rows' real contexts with the backfill's "context unknown". So before
a gap's events are forwarded, the stream is read from the gap's start (less a margin for clocks that
disagree) and every event it already holds is left out. The replay stream (the raw events of the last
REPLAY_HOURS, kept after validate has consumed them) is the truth of what was forwarded, whichever replica
forwarded it; a gap older than that window is forwarded whole. When it cannot be read (NATS down) nothing
is left out: the store and the webhook deliveries drop repeats by event_id anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ha_bridge.batcher import event_key
from ingestor import jsoncodec, subjects
from ingestor.bus import Bus
from ingestor.errors import Unavailable
from ingestor.timeutil import format_timestamp

log = logging.getLogger(__name__)

CLOCK_MARGIN = dt.timedelta(minutes=10)
MAX_EVENTS = 2_000_000  # beyond this, reading costs more than the duplicates it would save
FETCH = 1000


async def _read(js: JetStreamContext, since: dt.datetime) -> set[str] | None:
    last = (await js.stream_info(subjects.REPLAY_STREAM)).state.last_seq
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=format_timestamp(since),
                            ack_policy=AckPolicy.NONE, filter_subject=subjects.RAW, inactive_threshold=30)
    sub = await js.pull_subscribe(subjects.RAW, stream=subjects.REPLAY_STREAM, config=config)
    ids: set[str] = set()
    try:
        while True:
            try:
                msgs = await sub.fetch(FETCH, timeout=1)
            except TimeoutError:
                return ids
            for msg in msgs:
                ids.update(_ids(msg.data))
                if msg.metadata.sequence.stream >= last:
                    return ids
            if len(ids) > MAX_EVENTS:
                return None
    finally:
        await sub.unsubscribe()


def _ids(payload: bytes) -> list[str]:
    try:
        events: Any = jsoncodec.loads(payload).get("events")
    except (ValueError, AttributeError):
        return []
    return [event_key(e) for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def event_ids_since(bus: Bus, since: dt.datetime, timeout: float) -> set[str] | None:
    """Ids of the events on ha.events.raw published since `since` (less CLOCK_MARGIN); None when unknown."""
    try:
        return bus.call(lambda js: _read(js, since - CLOCK_MARGIN), timeout=timeout)
    except Unavailable as exc:
        log.warning("could not read what the stream already holds; backfilling without leaving it out",
                    extra={"error": str(exc)})
        return None
