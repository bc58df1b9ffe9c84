"""The stores the queries read, opened once per process and reused across invocations, and the names of areas,
devices and entities (read from the metadata DB at most every NAMES_TTL_S seconds: answers polled every few
seconds then cost no metadata query).

InfluxDB's transport gives up on an answer after 10 s (right for the pipeline's writes, which retry);
a month-long aggregate over millions of points can take longer, so reads here wait STORE_READ_TIMEOUT_S
(default 50 s, within the function's 60 s timeout) before answering 503.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time

from ingestor import config, metadata, store
from ingestor.metadata.registry import MetadataDB
from ingestor.queries.catalog import Names
from ingestor.queries.catalog import names as read_names
from ingestor.store import EventStore
from ingestor.store.model import StoreError

log = logging.getLogger(__name__)


@functools.cache
def event_store() -> EventStore:
    return store.open_event_store(store.default_url(), read_timeout=config.env_float("STORE_READ_TIMEOUT_S", 50))


def metadata_db() -> MetadataDB:
    return metadata.shared()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


NAMES_TTL_S = 10.0
NAMES_RETRY_S = 60.0
_names: tuple[float, Names] = (float("-inf"), Names({}, {}, {}))
_names_failing = False
_names_lock = threading.Lock()


def names() -> Names:
    """Names are decoration: with the metadata DB down, answers keep the last names read (or none) and work on;
    the failure is logged once, and the DB is asked again after NAMES_RETRY_S (a dead server can take seconds)."""
    global _names, _names_failing
    with _names_lock:
        if time.monotonic() < _names[0]:
            return _names[1]
        try:
            _names = (time.monotonic() + NAMES_TTL_S, read_names(metadata_db()))
            _names_failing = False
        except StoreError as exc:
            if not _names_failing:
                log.warning("names of areas, devices and entities not read; answering without them",
                            extra={"error": str(exc)})
            _names_failing = True
            _names = (time.monotonic() + NAMES_RETRY_S, _names[1])
        return _names[1]
