"""sports-poll's HTTP API: the cron's POST polls what is due (and, while a followed game is live, keeps polling
every live TTL for up to SPORTS_LIVE_LOOP_S); GET / or /status shows each league's breaker, last poll and feed;
GET /config the configuration. The read endpoints of games and teams are the query function's
(ingestor.sports.routes). With no team followed (SPORTS_TEAMS empty: sports off) there is no poller: each
tick answers at once, and the process never loads requests or SQLAlchemy (it starts every minute).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ingestor import bus, metadata
from ingestor.errors import Unavailable
from ingestor.httpapi import Api, Request, Route
from ingestor.settings import describe
from ingestor.sports import settings
from ingestor.store.model import StoreError

if TYPE_CHECKING:
    from ingestor.sports.poller import SportsPoller

UNSIGNED_READS = ("/", "/status", "/config", "/openapi.json")  # GETs only; a poll needs the cron's signature


def _publish(subject: str, batch_id: str, records: list[Any]) -> None:
    bus.default().publish_batch(subject, batch_id, records)


@functools.cache
def configured() -> settings.Settings:
    return settings.load()


@functools.cache
def poller() -> SportsPoller | None:
    """None while no team is followed."""
    if not configured().leagues:
        return None
    from ingestor.sports.poller import SportsPoller  # requests
    from ingestor.sports.repository import GamesRepository  # SQLAlchemy

    return SportsPoller(configured(), GamesRepository(metadata.default_url()), _publish)


def _status(_: Request) -> dict[str, Any]:
    current = poller()
    try:
        return {"leagues": current.status() if current else {}, "problems": configured().problems}
    except StoreError as exc:
        raise Unavailable(str(exc)) from None


def _poll(_: Request) -> dict[str, Any]:
    current = poller()
    if current is None:
        return {"result": "off", "outcomes": []}
    if not current.busy.acquire(blocking=False):  # the previous tick is still polling a live game
        return {"result": "busy", "outcomes": []}
    try:
        outcomes = current.run()
    except StoreError as exc:  # nothing stored: the next tick detects the same changes, with the same ids
        raise Unavailable(str(exc)) from None
    finally:
        current.busy.release()
    return {"result": "polled", "outcomes": [o.summary() for o in outcomes]}


API = Api("HA Ingestor sports-poll", "1.0", __doc__ or "", [
    Route("POST", "/", _poll, "Poll what is due (the cron's call)", tag="sports"),
    Route("GET", "/", _status, "Each league's breaker, last poll and feed", tag="sports"),
    Route("GET", "/status", _status, "Same as GET /", tag="sports"),
    Route("GET", "/config", lambda _: describe(configured()), "The configuration", tag="sports"),
])


def health() -> dict[str, Any]:
    current = poller()
    degraded = [league for league, b in current.breakers.items() if b.state != "closed"] if current else []
    return {"status": "ok", "degraded": degraded, "problems": configured().problems,
            "leagues": configured().leagues}
