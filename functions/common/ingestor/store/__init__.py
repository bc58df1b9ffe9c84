"""The event store: one interface, backends chosen by URL (sqlite:///, postgresql://, influxdb://)."""

from __future__ import annotations

from typing import Any

from ingestor import config
from ingestor.store.model import StoreError, StoreUnavailable

__all__ = ["StoreError", "StoreUnavailable", "open_event_store", "default_url"]


def default_url() -> str:
    """EVENT_STORE_URL, else an SQLite file in DATA_DIR (the local runtime's data folder)."""
    return config.env_str("EVENT_STORE_URL") or f"sqlite:///{config.env_str('DATA_DIR', '.data')}/events.db"


def open_event_store(url: str) -> Any:
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite") or scheme.startswith("postgres"):
        from ingestor.store.sql import SqlEventStore

        return SqlEventStore(url)
    if scheme in ("influxdb", "influxdbs", "influxdb2", "influxdb2s"):
        from ingestor.store.influx import open_influx

        return open_influx(url)
    raise ValueError(f"unsupported event store URL scheme {scheme!r}: use sqlite:///, postgresql:// or influxdb://")
