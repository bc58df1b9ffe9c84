"""The stores the queries read, opened once per process and reused across invocations.

InfluxDB's transport gives up on an answer after 10 s (right for the pipeline's writes, which retry);
a month-long aggregate over millions of points can take longer, so reads here wait STORE_READ_TIMEOUT_S
(default 50 s, within the function's 60 s timeout) before answering 503.
"""

from __future__ import annotations

import datetime as dt
import functools

from ingestor import config, metadata, store
from ingestor.metadata.registry import MetadataDB
from ingestor.store import EventStore


@functools.cache
def event_store() -> EventStore:
    return store.open_event_store(store.default_url(), read_timeout=config.env_float("STORE_READ_TIMEOUT_S", 50))


def metadata_db() -> MetadataDB:
    return metadata.shared()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
