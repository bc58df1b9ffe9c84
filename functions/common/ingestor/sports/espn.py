"""ESPN's public scoreboard (site.api.espn.com/apis/site/v2/sports/<sport>/<league>/scoreboard) as Games.

The document: {"leagues", "season", "day" | "week", "events": [{"id", "date", "name", "shortName",
"season": {"year", "type"}, "competitions": [{"competitors": [{"homeAway", "score", "team": {"abbreviation",
"displayName"}, "records": [{"type": "total", "summary"}]}], "status": {"displayClock", "period", "type":
{"name", "state": "pre"|"in"|"post", "completed", "shortDetail"}}}]}]}. A document without an events list is
refused whole (the provider answered something else); one malformed event is skipped and counted.
"""

from __future__ import annotations

import logging
from typing import Any

from ingestor import metrics
from ingestor.sports.model import Game, Side
from ingestor.timeutil import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)
_skipped = metrics.counter("sports_events_skipped_total", "Scoreboard entries that could not be read", ["league"])

PATHS = {"nfl": "football/nfl", "nhl": "hockey/nhl"}


class FeedError(Exception):
    """The provider failed or answered something that is not a scoreboard."""


def scoreboard_path(league: str) -> str:
    return f"/apis/site/v2/sports/{PATHS[league]}/scoreboard"


def status_of(type_: dict[str, Any]) -> str:
    """pre: scheduled; in: live (halftime and period breaks included); post: final when completed, else
    postponed or canceled (ESPN marks both as post, not completed)."""
    state = type_.get("state")
    if state == "pre":
        return "scheduled"
    if state == "in":
        return "live"
    if state == "post":
        if type_.get("completed"):
            return "final"
        return "postponed" if "POSTPONED" in str(type_.get("name", "")) else "canceled"
    raise ValueError(f"unknown status state {state!r}")


def _score(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict):  # some ESPN endpoints give {"value": 3.0, "displayValue": "3"}
        raw = raw.get("value")
    return int(float(raw))


def _record(competitor: dict[str, Any]) -> str | None:
    records = competitor.get("records") or []
    total = next((r for r in records if isinstance(r, dict) and r.get("type") == "total"), None)
    total = total or next((r for r in records if isinstance(r, dict)), None)
    return total.get("summary") if total else None


def _side(competitor: dict[str, Any]) -> Side:
    team = competitor["team"]
    return Side(str(team["abbreviation"]).upper(), team.get("displayName") or team.get("name"),
                _score(competitor.get("score")), _record(competitor))


def _game(event: dict[str, Any], league: str) -> Game:
    competition = event["competitions"][0]
    by_side = {c.get("homeAway"): c for c in competition["competitors"]}
    if "home" not in by_side or "away" not in by_side:
        raise ValueError("competitors: expected a home and an away team")
    status = competition.get("status") or event["status"]
    type_ = status["type"]
    season = event.get("season") or {}
    return Game(
        game_id=str(event["id"]), league=league, status=status_of(type_),
        home=_side(by_side["home"]), away=_side(by_side["away"]),
        start_time=_iso(competition.get("date") or event.get("date")),
        season=season.get("year"), season_type=season.get("type"), period=status.get("period"),
        clock=status.get("displayClock"), detail=type_.get("shortDetail") or type_.get("detail"),
        name=event.get("shortName") or event.get("name"),
        raw={"espn_status": type_.get("name"), "home_team_id": by_side["home"]["team"].get("id"),
             "away_team_id": by_side["away"]["team"].get("id")})


def _iso(value: Any) -> str | None:
    """ESPN writes "2024-09-09T00:15Z"; stored as the project's fixed-width UTC form."""
    return format_timestamp(parse_timestamp(value)) if value else None


def parse(document: Any, league: str) -> list[Game]:
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise FeedError("answer is not a scoreboard (no events list)")
    games = []
    for event in document["events"]:
        try:
            games.append(_game(event, league))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            _skipped.labels(league).inc()
            log.warning("scoreboard entry skipped", extra={"league": league, "error": f"{type(exc).__name__}: {exc}",
                                                           "event_id": event.get("id") if isinstance(event, dict)
                                                           else None})
    return games
