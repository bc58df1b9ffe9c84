"""Game events from the difference between the stored state of a game and what the scoreboard shows now.

Rules: scheduled (or unseen) -> live is game_started (a game first seen live starts once); a score
different from the stored one while live or final is score_changed, carrying the previous scores; live
-> final is game_ended, and a final never seen live ends without starting. A game already final, or a
scoreboard that moves a game backwards (live -> scheduled, from a lagging cache), changes nothing.
Event ids hash the game, the kind and the scores/status, so detecting the same change again (a replay,
a restart between publish and store) yields the same ids and JetStream and webhook-dispatch drop it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ingestor.sports.model import Game

GAME_STARTED, SCORE_CHANGED, GAME_ENDED = "game_started", "score_changed", "game_ended"


@dataclass(frozen=True)
class Diff:
    record: bool  # store the new state
    point: bool  # add a timeline point (score or status changed)
    events: list[str] = field(default_factory=list)


def _scores(game: Game) -> tuple[int, int]:
    return game.home.score or 0, game.away.score or 0


def diff(previous: Game | None, current: Game) -> Diff:
    if previous is None:
        if current.status == "live":
            return Diff(True, True, [GAME_STARTED])
        if current.status == "final":
            return Diff(True, True, [GAME_ENDED])
        return Diff(True, True)
    if previous.status == "final" or (previous.status == "live" and current.status == "scheduled"):
        return Diff(False, False)
    events: list[str] = []
    if current.status == "live" and previous.status != "live":
        events.append(GAME_STARTED)
    scored = _scores(current) != _scores(previous)
    if scored and current.status in ("live", "final") and previous.status == "live":
        events.append(SCORE_CHANGED)
    if current.status == "final":
        events.append(GAME_ENDED)
    point = scored or current.status != previous.status
    return Diff(True, point, events)


def event_id(game: Game, kind: str, previous: Game | None) -> str:
    before = _scores(previous) if previous is not None and kind == SCORE_CHANGED else ()
    key = f"sports|{game.league}|{game.game_id}|{kind}|{before}|{_scores(game)}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def event(game: Game, kind: str, previous: Game | None, time_fired: str) -> dict[str, Any]:
    """The sports.events record (API.md "sports events")."""
    prior = None
    if kind == SCORE_CHANGED and previous is not None:
        prior = {"home_score": previous.home.score, "away_score": previous.away.score}
    return {"event_id": event_id(game, kind, previous), "event_type": kind, "time_fired": time_fired,
            "domain": "sports", "league": game.league, "game_id": game.game_id, "teams": game.teams,
            "name": game.name, "home": game.home.api(), "away": game.away.api(), "status": game.status,
            "period": game.period, "clock": game.clock, "detail": game.detail, "start_time": game.start_time,
            "previous": prior}
