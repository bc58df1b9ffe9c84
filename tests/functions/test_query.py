"""query's handler: every read endpoint on the event store and metadata DB, described at GET /openapi.json. The
endpoints themselves: tests/queries."""

from __future__ import annotations

from pathlib import Path

from ingestor.normalization import normalize_event
from ingestor.store import open_event_store
from tests.support.function import invoke, load_handler
from tests.support.ha_events import many


def test_stored_events_are_read_newest_first(process: Path) -> None:
    events = open_event_store(f"sqlite:///{process}/events.db")
    events.write([normalize_event(e) for e in many(3)])
    events.close()
    status, page = invoke(load_handler("query"), "GET", "/events", query={"start": "-1d"})
    assert status == 200 and len(page["items"]) == 3
    assert [i["time_fired"] for i in page["items"]] == sorted((i["time_fired"] for i in page["items"]), reverse=True)


def test_the_document_lists_the_read_endpoints_and_health_checks_both_stores(process: Path) -> None:
    handler = load_handler("query")
    status, document = invoke(handler, "GET", "/openapi.json")
    assert status == 200 and {"/events", "/devices", "/entities/{entity_id}/history"} <= set(document["paths"])
    assert handler.health()["status"] == "ok"
