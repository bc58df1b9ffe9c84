"""Observed scores as series samples on ha.context.samples (subjects.CONTEXT_SAMPLES), which `write` stores like any
context value: entity `sports.<league>_<game_id>_home_score` / `_away_score`, numeric state_value, charted beside
HA sensors."""

from __future__ import annotations

import hashlib

from ingestor import record
from ingestor.record import EventRecord
from ingestor.sports.model import Game

EVENT_TYPE = "sports_score"


def records(game: Game, time_fired: str) -> list[EventRecord]:
    """Ids hash the game, side, status and both scores: observing the same score again stores nothing new."""
    out = []
    for side_name, side in (("home", game.home), ("away", game.away)):
        if side.score is None:
            continue
        entity = f"sports.{game.league}_{game.game_id}_{side_name}_score"
        key = f"{entity}|{game.status}|{game.home.score}|{game.away.score}"
        out.append(record.new(
            hashlib.blake2b(key.encode(), digest_size=16).hexdigest(), EVENT_TYPE, time_fired, origin="LOCAL",
            entity_id=entity, domain="sports", state=str(side.score), state_value=float(side.score),
            friendly_name=f"{side.abbreviation} score ({game.name or ''})",
            attributes={"league": game.league, "game_id": game.game_id, "team": side.abbreviation,
                        "side": side_name, "status": game.status, "period": game.period, "clock": game.clock}))
    return out
