"""Registry snapshots for ha.registry: config, areas, devices, entities and states, in bounded parts.

Each part is an event of a normal envelope: {"type", "snapshot_id", "fetched_at", "ha_version",
"part", "parts", "items"}, items being HA's own result objects unchanged. `parts` counts every part
of the snapshot (all types), so a consumer knows when it holds a complete one. A type whose list is
empty still gets one part with no items: "no devices" differs from "devices not fetched".
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from ha_bridge.batcher import Batch
from ha_bridge.connection import CommandFailed, Connection
from ingestor import envelope, jsoncodec, metrics, subjects
from ingestor.timeutil import format_timestamp

log = logging.getLogger(__name__)

_snapshots = metrics.counter("bridge_registry_snapshots_total", "Registry snapshots published")

COMMANDS = (
    ("config", "get_config"),
    ("areas", "config/area_registry/list"),
    ("devices", "config/device_registry/list"),
    ("entities", "config/entity_registry/list"),
    ("states", "get_states"),
)


def fetch(conn: Connection, timeout: float) -> dict[str, list[Any]]:
    """HA's lists, requested together (one round trip of waiting); a refused command is left out."""
    waiters = {name: conn.send(kind) for name, kind in COMMANDS}
    results: dict[str, list[Any]] = {}
    for name, waiter in waiters.items():
        try:
            result = waiter.result(timeout)
        except CommandFailed as exc:
            log.warning("registry list refused; the snapshot goes without it", extra={"type": name, "error": str(exc)})
            continue
        results[name] = [result] if name == "config" else list(result or [])
    return results


def _chunks(items: list[Any], max_items: int, max_bytes: int) -> list[list[Any]]:
    """Consecutive runs of at most `max_items` items and about `max_bytes` (a larger item stands alone)."""
    chunks: list[list[Any]] = []
    current: list[Any] = []
    size = 0
    for item in items:
        item_size = len(jsoncodec.dumps(item))
        if current and (len(current) >= max_items or size + item_size > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    chunks.append(current)  # an empty list still makes one (empty) part
    return chunks


def snapshot(results: dict[str, list[Any]], ha_version: str, max_items: int, max_bytes: int,
             now: dt.datetime | None = None) -> Batch:
    """The batch for ha.registry holding every part of one snapshot."""
    now = now or dt.datetime.now(dt.UTC)
    snapshot_id = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}"
    version = ha_version
    if results.get("config") and isinstance(results["config"][0], dict):
        version = str(results["config"][0].get("version") or ha_version)
    typed = [(name, chunk) for name, _ in COMMANDS if name in results
             for chunk in _chunks(results[name], max_items, max_bytes)]
    parts = [{"type": name, "snapshot_id": snapshot_id, "fetched_at": format_timestamp(now), "ha_version": version,
              "part": index, "parts": len(typed), "items": chunk}
             for index, (name, chunk) in enumerate(typed, start=1)]
    batch_id = f"registry-{snapshot_id}"
    return Batch(subjects.REGISTRY, batch_id, envelope.encode(batch_id, parts), len(parts))


def publish_snapshot(conn: Connection, put: Any, ha_version: str, max_items: int, max_bytes: int,
                     timeout: float) -> dict[str, list[Any]]:
    """Fetch, hand the snapshot to the outbox, and return the lists (the states seed backfill)."""
    results = fetch(conn, timeout)
    batch = snapshot(results, ha_version, max_items, max_bytes)
    put(batch)
    _snapshots.inc()
    log.info("registry snapshot queued", extra={"batch_id": batch.batch_id, "parts": batch.count,
                                                "counts": {k: len(v) for k, v in results.items()}})
    return results
