"""The sports read endpoints, mounted by the query function: `Api(..., routes=[..., *routes()])`."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from ingestor import metadata
from ingestor.cursors import MAX_CURSOR
from ingestor.httpapi import Param, Request, Route
from ingestor.sports import queries
from ingestor.sports.model import GAME_SCHEMA, LEAGUES, SIDE_SCHEMA, STATUSES
from ingestor.sports.repository import GAMES, GamesRepository

TAG = "sports"
TEAM = Param("team", "Team abbreviation as ESPN writes it, e.g. SF, BOS", max_length=16)
LEAGUE = Param("league", "Only this league (a team abbreviation can exist in both)", enum=LEAGUES)
NULLABLE_STR = {"type": "string", "nullable": True}
SCORE = {"type": "object", "nullable": True, "properties": {"team": {"type": "integer", "nullable": True},
                                                             "opponent": {"type": "integer", "nullable": True}}}
STATUS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["team", "is_playing", "status", "stale"],
    "properties": {"team": {"type": "string"}, "league": NULLABLE_STR, "is_playing": {"type": "boolean"},
                   "game_id": NULLABLE_STR, "status": {"type": "string", "enum": [*STATUSES, "none"]},
                   "score": SCORE, "opponent": NULLABLE_STR, "home": {"type": "boolean", "nullable": True},
                   "period": {"type": "integer", "nullable": True}, "time_remaining": NULLABLE_STR,
                   "detail": NULLABLE_STR, "start_time": NULLABLE_STR, "updated_at": NULLABLE_STR,
                   "stale": {"type": "boolean", "description": "ESPN unreachable lately: last known data"}},
}
CONTEXT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["team", "last_results", "season_record", "recommendations", "stale"],
    "properties": {
        "team": {"type": "string"}, "league": NULLABLE_STR, "current_game": {**GAME_SCHEMA, "nullable": True},
        "last_results": {"type": "array", "maxItems": 5, "items": {"type": "object", "properties": {
            "game_id": {"type": "string"}, "date": NULLABLE_STR, "opponent": {"type": "string"},
            "home": {"type": "boolean"}, "score": SCORE, "result": {"type": "string", "enum": ["W", "L", "T"]}}}},
        "season": {"type": "integer", "nullable": True},
        "season_record": {"type": "object", "properties": {
            "wins": {"type": "integer"}, "losses": {"type": "integer"}, "ties": {"type": "integer"},
            "overtime_losses": {"type": "integer"}, "summary": {"type": "string"},
            "source": {"type": "string", "enum": ["espn", "observed"]}}},
        "recommendations": {"type": "array", "items": {"type": "string"}},
        "stale": {"type": "boolean"},
    },
}
GAMES_SCHEMA: dict[str, Any] = {"type": "object", "required": ["items", "next_cursor"],
                                "properties": {"items": {"type": "array", "items": GAME_SCHEMA},
                                               "next_cursor": NULLABLE_STR}}
TIMELINE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["game_id", "points"],
    "properties": {"game_id": {"type": "string"}, "league": {"type": "string"}, "home": SIDE_SCHEMA,
                   "away": SIDE_SCHEMA, "status": {"type": "string"},
                   "points": {"type": "array", "items": {"type": "object", "properties": {
                       "t": {"type": "string"}, "home_score": {"type": "integer", "nullable": True},
                       "away_score": {"type": "integer", "nullable": True},
                       "period": {"type": "integer", "nullable": True}, "clock": NULLABLE_STR,
                       "status": {"type": "string"}}}}},
}


@functools.cache
def repository() -> GamesRepository:
    return GamesRepository(metadata.default_url())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)



def _status(req: Request) -> dict[str, Any]:
    return queries.team_status(repository(), req.params["team"], req.params["league"], _now())


def _context(req: Request) -> dict[str, Any]:
    return queries.team_context(repository(), req.params["team"], req.params["league"], _now())


def _games(req: Request) -> dict[str, Any]:
    p = req.params
    return queries.games(repository(), p["team"], p["league"], p["status"], p["season"], p["limit"], p["cursor"])


def _game(req: Request) -> dict[str, Any]:
    return queries.game(repository(), req.params["game_id"])


def _timeline(req: Request) -> dict[str, Any]:
    return queries.timeline(repository(), req.params["game_id"])


GAME_ID = Param("game_id", "ESPN's event id", max_length=64)


def routes() -> list[Route]:
    return [
        Route("GET", "/sports/teams/{team}/status", _status, "A team's game status, for an HA sensor",
              (TEAM, LEAGUE), STATUS_SCHEMA, tag=TAG,
              description="The live game, else the next scheduled one, else the latest final. status none when "
                          "no game is known. time_remaining is the game clock while live."),
        Route("GET", "/sports/teams/{team}/context", _context, "A team's current game, last 5 results, record",
              (TEAM, LEAGUE), CONTEXT_SCHEMA, tag=TAG,
              description="recommendations are rule-based hints for automations (see docs/sports.md)."),
        Route("GET", "/sports/games", _games, "Game history, newest first",
              (Param("team", "Team abbreviation", max_length=16), LEAGUE,
               Param("status", "Only games in this status", enum=STATUSES),
               Param("season", "Season year as ESPN gives it", "integer", minimum=1900, maximum=3000),
               Param("limit", "Page size", "integer", default=50, minimum=1, maximum=500),
               Param("cursor", "next_cursor of the previous page", max_length=MAX_CURSOR, check=GAMES.decode)),
              GAMES_SCHEMA, tag=TAG),
        Route("GET", "/sports/games/{game_id}", _game, "One game", (GAME_ID,), GAME_SCHEMA, tag=TAG),
        Route("GET", "/sports/games/{game_id}/timeline", _timeline, "A game's score timeline",
              (GAME_ID,), TIMELINE_SCHEMA, tag=TAG,
              description="One point per observed change of score or status, oldest first."),
    ]
