"""The event store: one interface (ingestor.store.protocol.EventStore), backends chosen by URL (sqlite:///,
postgresql://, influxdb://)."""

from __future__ import annotations

import functools
from typing import Any

from ingestor import config
from ingestor.store import retry
from ingestor.store.model import StoreError, StoreUnavailable
from ingestor.store.protocol import EventStore

__all__ = ["EventStore", "StoreError", "StoreUnavailable", "open_event_store", "default_url", "shared",
           "write_batches", "health_report"]


def default_url() -> str:
    """EVENT_STORE_URL, else an SQLite file in DATA_DIR (the local runtime's data folder)."""
    return config.env_str("EVENT_STORE_URL") or f"sqlite:///{config.env_str('DATA_DIR', '.data')}/events.db"


def open_event_store(url: str, *, read_timeout: float | None = None,
                     write_cache_kib: int | None = None) -> EventStore:
    """The store at `url`. `read_timeout`: how long a read may wait for InfluxDB's answer (default 10 s, what
    the pipeline's retried writes want; the queries wait longer); the SQL engines take no such limit.
    `write_cache_kib`: SQLite's page cache for a writing connection (default: sqlengine.WRITE_CACHE_KIB, what
    `write` wants); the other stores take no such setting."""
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite") or scheme.startswith("postgres"):
        from ingestor.store.sql import SqlEventStore

        return SqlEventStore(url) if write_cache_kib is None else SqlEventStore(url, write_cache_kib=write_cache_kib)
    if scheme in ("influxdb", "influxdbs", "influxdb2", "influxdb2s"):
        from ingestor.store.influx import open_influx

        return open_influx(url, timeout=read_timeout)
    raise ValueError(f"unsupported event store URL scheme {scheme!r}: use sqlite:///, postgresql:// or influxdb://")


@functools.cache
def shared() -> EventStore:
    """The process's event store at default_url(), opened once and kept across invocations."""
    return open_event_store(default_url())


def write_batches(batches: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """write's delivery: a call's batches (a coalesced call's several, else its one) into the shared store in one
    write (one transaction in the SQL store), retried while the store is briefly away."""
    retry.write(shared(), [one for _, records in batches for one in records], batches=len(batches))


def health_report() -> dict[str, Any]:
    """A /_/health answer for a function that owns the shared store."""
    state = shared().health()
    return {"status": state.status, "store": state.backend, "latency_ms": state.latency_ms, "reason": state.reason}
