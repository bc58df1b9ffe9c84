"""Recent events and search: the event store's pages, newest first, with every filter."""

from __future__ import annotations

from typing import Any

from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore


def search(store: EventStore, f: EventFilter, limit: int, cursor: str | None) -> dict[str, Any]:
    page = store.query(f, limit=limit, cursor=cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}
