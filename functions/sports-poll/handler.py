"""sports-poll (cron): fetches the followed teams' games from ESPN's scoreboard, stores them in the metadata
DB, publishes game_started / score_changed / game_ended on sports.events and the scores as series.

POST (the cron, empty body): poll what is due; while a followed game is live, keep polling every live TTL
for up to SPORTS_LIVE_LOOP_S. GET /status: each league's breaker, last poll and feed; GET /config.
"""

from __future__ import annotations

import functools
from typing import Any

from ingestor import bus, metadata
from ingestor.errors import Unavailable
from ingestor.responses import HTTPError, json_response
from ingestor.sports import settings
from ingestor.sports.poller import SportsPoller
from ingestor.sports.repository import GamesRepository
from ingestor.store.model import StoreError

UNSIGNED_READS = ("/", "/status", "/config")  # GETs only; a poll needs the cron's signature


def _publish(subject: str, batch_id: str, records: list[dict[str, Any]]) -> None:
    bus.default().publish_batch(subject, batch_id, records)


@functools.cache
def poller() -> SportsPoller:
    return SportsPoller(settings.load(), GamesRepository(metadata.default_url()), _publish)


def handle(event: Any, context: Any) -> dict[str, Any]:
    path = (event.path or "/").rstrip("/")
    current = poller()
    if event.method == "GET" and path == "/config":
        return json_response(settings.describe(current.settings))
    if event.method == "GET" and path in ("/status", ""):
        try:
            return json_response({"leagues": current.status(), "problems": current.settings.problems})
        except StoreError as exc:
            raise Unavailable(str(exc)) from None
    if event.method == "GET":
        raise HTTPError(404, "not_found", f"no route GET {path}: GET /status or /config; POST (the cron) polls")
    if event.method != "POST":
        raise HTTPError(405, "method_not_allowed", "POST (the cron) polls; GET /status or /config")
    if not current.busy.acquire(blocking=False):  # the previous tick is still polling a live game
        return json_response({"result": "busy", "outcomes": []})
    try:
        outcomes = current.run()
    except StoreError as exc:  # nothing stored: the next tick detects the same changes, with the same ids
        raise Unavailable(str(exc)) from None
    finally:
        current.busy.release()
    return json_response({"result": "polled", "outcomes": [o.summary() for o in outcomes]})


def health() -> dict[str, Any]:
    current = poller()
    degraded = [league for league, b in current.breakers.items() if b.state != "closed"]
    return {"status": "ok", "degraded": degraded, "problems": current.settings.problems,
            "leagues": current.settings.leagues}
