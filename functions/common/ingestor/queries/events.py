"""Recent events and search: the event store's pages, newest first, with every filter."""

from __future__ import annotations

from typing import Any

from ingestor.store.model import EventFilter


def search(store: Any, f: EventFilter, limit: int, cursor: str | None) -> dict[str, Any]:
    page = store.query(f, limit=limit, cursor=cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}
