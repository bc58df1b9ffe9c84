"""The shared cache of the latest context values: a NATS JetStream key-value bucket.

context-poll writes; weather-enrich (any number of replicas, on any node) reads. One key per
source holds {"values", "fetched_at", "provider"}; another, `status.<source>`, the poller's view of
the provider (breaker state, last error) for health and the dashboard.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, NoKeysError

from ingestor import bus, jsoncodec

BUCKET = "ha_context"


async def _bucket(js: JetStreamContext) -> Any:
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE))


def put(key: str, value: dict[str, Any]) -> None:
    async def write(js: JetStreamContext) -> None:
        await (await _bucket(js)).put(key, jsoncodec.dumps(value))

    bus.default().call(write)


def read_all() -> dict[str, dict[str, Any]]:
    """Every key and its value (empty when nothing was ever polled)."""
    async def read(js: JetStreamContext) -> dict[str, dict[str, Any]]:
        kv = await _bucket(js)
        out: dict[str, dict[str, Any]] = {}
        try:
            keys = await kv.keys()
        except NoKeysError:
            return out
        for key in keys:
            entry = await kv.get(key)
            if entry.value:
                out[key] = jsoncodec.loads(entry.value)
        return out

    return bus.default().call(read)


class Snapshot:
    """read_all() remembered for `ttl_s`, so a busy enrich stage reads NATS a few times a minute."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._value: dict[str, dict[str, Any]] = {}
        self._at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if time.monotonic() - self._at > self.ttl_s:
                self._value = read_all()
                self._at = time.monotonic()
            return self._value
