"""A game as the sports code sees it, whatever it was read from (ESPN's scoreboard or the games table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEAGUES = ("nfl", "nhl")
STATUSES = ("scheduled", "live", "final", "postponed", "canceled")


@dataclass(frozen=True)
class Side:
    abbreviation: str
    name: str | None = None
    score: int | None = None
    record: str | None = None  # ESPN's season record summary at that game, e.g. "10-5" or "30-15-5"

    def api(self) -> dict[str, Any]:
        return {"abbreviation": self.abbreviation, "name": self.name, "score": self.score}


@dataclass(frozen=True)
class Game:
    game_id: str
    league: str
    status: str
    home: Side
    away: Side
    start_time: str | None = None
    season: int | None = None
    season_type: int | None = None
    period: int | None = None
    clock: str | None = None
    detail: str | None = None
    name: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    updated_at: str | None = field(default=None, compare=False)

    @property
    def teams(self) -> list[str]:
        return [self.home.abbreviation, self.away.abbreviation]

    def involves(self, team: str) -> bool:
        return team.upper() in (self.home.abbreviation.upper(), self.away.abbreviation.upper())

    def api(self) -> dict[str, Any]:
        """The Game object of the HTTP contract."""
        return {"game_id": self.game_id, "league": self.league, "season": self.season, "start_time": self.start_time,
                "status": self.status, "period": self.period, "clock": self.clock, "detail": self.detail,
                "name": self.name, "home": self.home.api(), "away": self.away.api(), "updated_at": self.updated_at}


SIDE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["abbreviation"],
    "properties": {"abbreviation": {"type": "string"}, "name": {"type": "string", "nullable": True},
                   "score": {"type": "integer", "nullable": True}},
}
GAME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["game_id", "league", "status", "home", "away"],
    "properties": {
        "game_id": {"type": "string"}, "league": {"type": "string", "enum": list(LEAGUES)},
        "season": {"type": "integer", "nullable": True},
        "start_time": {"type": "string", "format": "date-time", "nullable": True},
        "status": {"type": "string", "enum": list(STATUSES)},
        "period": {"type": "integer", "nullable": True}, "clock": {"type": "string", "nullable": True},
        "detail": {"type": "string", "nullable": True}, "name": {"type": "string", "nullable": True},
        "home": SIDE_SCHEMA, "away": SIDE_SCHEMA,
        "updated_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}
