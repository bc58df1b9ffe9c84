"""The read side for HA automations: a team's game status and context, game history and a game's timeline.

Pure functions over the repository and a given `now`. A status answers 200 even when the team has no game
(`status: "none"`), so an HA rest sensor shows "not playing" rather than going unavailable. `stale` is true
when the league's feed has not been read successfully lately (ESPN down, breaker open): the data shown is
the last known.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ingestor.errors import NotFound
from ingestor.sports.model import Game
from ingestor.sports.repository import GamesRepository
from ingestor.timeutil import format_timestamp, parse_timestamp

STALE_AFTER_S = 900.0  # the upcoming-games TTL is 5 min: three missed polls
SOON_S = 3600.0
CLOSE_MARGIN = {"nfl": 8, "nhl": 1}
RECENT_WIN_S = 6 * 3600.0  # from the start of the game: about three hours after it ended


def _iso(value: dt.datetime) -> str:
    return format_timestamp(value)


def stale(repo: GamesRepository, league: str | None, now: dt.datetime, after_s: float = STALE_AFTER_S) -> bool:
    """True when the league's feed failed on its last poll, its breaker is not closed, or it has not been
    read successfully for `after_s` (or ever)."""
    feed = repo.feeds().get(league or "")
    if not feed:
        return True
    if feed["result"] in ("failed", "breaker_open") or feed["breaker"] not in (None, "closed"):
        return True
    last = feed["last_success_at"]
    return last is None or (now - parse_timestamp(last)).total_seconds() > after_s


def current_game(repo: GamesRepository, team: str, league: str | None, now: dt.datetime) -> Game | None:
    """The team's live game, else its next scheduled one (from 6 h ago on), else its latest final."""
    live, _ = repo.games(team=team, league=league, status="live", limit=1)
    if live:
        return live[0]
    upcoming, _ = repo.games(team=team, league=league, status="scheduled", after=_iso(now - dt.timedelta(hours=6)),
                             ascending=True, limit=1)
    if upcoming:
        return upcoming[0]
    final, _ = repo.games(team=team, league=league, status="final", limit=1)
    return final[0] if final else None


def _sides(game: Game, team: str) -> tuple[Any, Any, bool]:
    home = game.home.abbreviation.upper() == team.upper()
    return (game.home, game.away, True) if home else (game.away, game.home, False)


def team_status(repo: GamesRepository, team: str, league: str | None, now: dt.datetime) -> dict[str, Any]:
    game = current_game(repo, team, league, now)
    if game is None:
        return {"team": team.upper(), "league": league, "is_playing": False, "game_id": None, "status": "none",
                "score": None, "opponent": None, "home": None, "period": None, "time_remaining": None,
                "detail": None, "start_time": None, "updated_at": None, "stale": stale(repo, league, now)}
    ours, theirs, home = _sides(game, team)
    return {"team": ours.abbreviation, "league": game.league, "is_playing": game.status == "live",
            "game_id": game.game_id, "status": game.status, "score": {"team": ours.score, "opponent": theirs.score},
            "opponent": theirs.abbreviation, "home": home, "period": game.period,
            "time_remaining": game.clock if game.status == "live" else None, "detail": game.detail,
            "start_time": game.start_time, "updated_at": game.updated_at, "stale": stale(repo, game.league, now)}


def _result(ours: int | None, theirs: int | None) -> str:
    ours, theirs = ours or 0, theirs or 0
    return "W" if ours > theirs else "L" if ours < theirs else "T"


def season_record(team: str, finals: list[Game], latest: Game | None) -> dict[str, Any]:
    """ESPN's own record of the team as of its latest game ("W-L", "W-L-T"; the NHL's third number is
    overtime losses); else counted from the finals observed here."""
    if latest is not None:
        ours, _, _ = _sides(latest, team)
        found = re.fullmatch(r"(\d+)-(\d+)(?:-(\d+))?", ours.record or "")
        if found:
            third = int(found.group(3) or 0)
            nhl = latest.league == "nhl"
            return {"wins": int(found.group(1)), "losses": int(found.group(2)), "ties": 0 if nhl else third,
                    "overtime_losses": third if nhl else 0, "summary": ours.record, "source": "espn"}
    counts = {"W": 0, "L": 0, "T": 0}
    for game in finals:
        ours, theirs, _ = _sides(game, team)
        counts[_result(ours.score, theirs.score)] += 1
    return {"wins": counts["W"], "losses": counts["L"], "ties": counts["T"], "overtime_losses": 0,
            "summary": f"{counts['W']}-{counts['L']}" + (f"-{counts['T']}" if counts["T"] else ""),
            "source": "observed"}


def recommendations(team: str, game: Game | None, last: list[dict[str, Any]], now: dt.datetime) -> list[str]:
    """Rule-based hints for automations (documented in docs/sports.md)."""
    out: list[str] = []
    if game is not None and game.status == "live":
        ours, theirs, _ = _sides(game, team)
        out.append("game live: dim lights, TV scene on")
        if abs((ours.score or 0) - (theirs.score or 0)) <= CLOSE_MARGIN.get(game.league, 1):
            out.append("close game: keep notifications on")
        if (ours.score or 0) > (theirs.score or 0):
            out.append(f"{ours.abbreviation} leading: team colours")
    elif game is not None and game.status == "scheduled" and game.start_time:
        until = (parse_timestamp(game.start_time) - now).total_seconds()
        if 0 <= until <= SOON_S:
            out.append(f"game soon: pre-game scene in {int(until // 60)} min")
    live = game is not None and game.status == "live"
    if not live and last and last[0]["result"] == "W" and last[0]["date"] \
            and 0 <= (now - parse_timestamp(last[0]["date"])).total_seconds() <= RECENT_WIN_S:
        out.append("recent win: celebration lights")
    return out or ["no game now: normal routines"]


def team_context(repo: GamesRepository, team: str, league: str | None, now: dt.datetime) -> dict[str, Any]:
    game = current_game(repo, team, league, now)
    current = game if game is not None and game.status in ("live", "scheduled") else None
    league = league or (game.league if game else None)
    finals, _ = repo.games(team=team, league=league, status="final", limit=5)
    last = []
    for final in finals:
        ours, theirs, home = _sides(final, team)
        last.append({"game_id": final.game_id, "date": final.start_time, "opponent": theirs.abbreviation,
                     "home": home, "score": {"team": ours.score, "opponent": theirs.score},
                     "result": _result(ours.score, theirs.score)})
    latest, _ = repo.games(team=team, league=league, limit=1,
                           before=_iso(now + dt.timedelta(hours=12)))  # the newest game that has begun or is about to
    season = latest[0].season if latest else None
    season_finals, _ = repo.games(team=team, league=league, status="final", season=season, limit=500) \
        if season is not None else ([], None)
    record_from = next((g for g in ([game] if game else []) + finals if g.season == season), None)
    return {"team": team.upper(), "league": league, "current_game": current.api() if current else None,
            "last_results": last, "season": season,
            "season_record": season_record(team, season_finals, record_from),
            "recommendations": recommendations(team, current, last, now), "stale": stale(repo, league, now)}


def games(repo: GamesRepository, team: str | None, league: str | None, status: str | None, season: int | None,
          limit: int, cursor: str | None) -> dict[str, Any]:
    page, next_cursor = repo.games(team=team, league=league, status=status, season=season, limit=limit,
                                   cursor=cursor)
    return {"items": [g.api() for g in page], "next_cursor": next_cursor}


def game(repo: GamesRepository, game_id: str) -> dict[str, Any]:
    found = repo.game(game_id)
    if found is None:
        raise NotFound(f"no game {game_id!r}")
    return found.api()


def timeline(repo: GamesRepository, game_id: str) -> dict[str, Any]:
    found = repo.game(game_id)
    if found is None:
        raise NotFound(f"no game {game_id!r}")
    return {"game_id": found.game_id, "league": found.league, "home": found.home.api(), "away": found.away.api(),
            "status": found.status, "points": repo.timeline(game_id)}
