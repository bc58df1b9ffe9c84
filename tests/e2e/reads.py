"""The store as users read it: the query function's HTTP API (functions/query, contract in API.md)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections import Counter
from typing import Any

from tests.support.http import call


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class QueryAPI:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        response = call("GET", f"{self.base}{path}?{query}", timeout=30)
        assert response.status == 200, f"GET {path}: {response.status} {response.body[:500]!r}"
        return response.json()

    def events(self, start: dt.datetime, end: dt.datetime, **filters: Any) -> list[dict[str, Any]]:
        """Every event of the range, page after page (the contract's limit + cursor)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.get("/events", start=iso(start), end=iso(end), limit=1000, cursor=cursor, **filters)
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def by_event_type(self, start: dt.datetime, end: dt.datetime, entity_id: str) -> Counter[str]:
        summary = self.get("/stats/summary", start=iso(start), end=iso(end), entity_id=entity_id)
        return Counter({row["key"]: row["count"] for row in summary["by_event_type"]})
