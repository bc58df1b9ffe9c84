"""The read side for HA automations, over games recorded by the poller from the scoreboard sequence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from ingestor import jsoncodec
from ingestor.errors import NotFound, Problem
from ingestor.httpapi import Api
from ingestor.responses import HTTPError, from_error, status_of
from ingestor.sports import queries, routes
from ingestor.sports.poller import SportsPoller
from ingestor.sports.repository import GamesRepository
from tests.sports.espn_server import ScoreboardServer

NOW = dt.datetime(2025, 11, 23, 22, 30, tzinfo=dt.UTC)  # during the recorded SF game
SF_GAME = "401772945"


def _at(server: ScoreboardServer, poller: SportsPoller, *steps: int) -> None:
    for step in steps:
        server.step = {"nfl": step, "nhl": min(step, 7)}
        poller.poll(now=NOW)


def test_status_of_a_team_in_a_live_game(espn_server: ScoreboardServer, poller: SportsPoller,
                                         repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 2, 3, 4, 5)
    status = queries.team_status(repo, "sf", None, NOW)
    assert {k: status[k] for k in ("team", "league", "is_playing", "game_id", "status", "score", "opponent", "home",
                                   "period", "time_remaining", "stale")} == {
        "team": "SF", "league": "nfl", "is_playing": True, "game_id": SF_GAME, "status": "live",
        "score": {"team": 14, "opponent": 10}, "opponent": "SEA", "home": True, "period": 3,
        "time_remaining": "6:40", "stale": False}


def test_status_of_the_away_team_is_seen_from_its_side(espn_server: ScoreboardServer, poller: SportsPoller,
                                                       repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 2, 3)
    status = queries.team_status(repo, "BOS", "nhl", NOW)
    assert (status["score"], status["opponent"], status["home"]) == ({"team": 1, "opponent": 0}, "TOR", False)


def test_status_after_the_game_is_final_and_not_playing(espn_server: ScoreboardServer, poller: SportsPoller,
                                                        repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 2, 8)
    status = queries.team_status(repo, "SF", "nfl", NOW)
    assert (status["is_playing"], status["status"], status["score"], status["time_remaining"]) == (
        False, "final", {"team": 17, "opponent": 10}, None)


def test_status_of_a_team_without_games_answers_none(repo: GamesRepository) -> None:
    status = queries.team_status(repo, "DET", None, NOW)
    assert (status["is_playing"], status["status"], status["game_id"]) == (False, "none", None)


def test_espn_down_marks_the_last_known_status_stale(espn_server: ScoreboardServer, poller: SportsPoller,
                                                     repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 2, 3)
    espn_server.mode = "down"
    poller.poll(now=NOW)
    status = queries.team_status(repo, "SF", None, NOW)
    assert (status["stale"], status["is_playing"], status["score"]) == (True, True, {"team": 7, "opponent": 0})


def test_a_feed_not_read_for_long_is_stale(espn_server: ScoreboardServer, poller: SportsPoller,
                                           repo: GamesRepository) -> None:
    _at(espn_server, poller, 2)
    assert queries.team_status(repo, "SF", None, NOW + dt.timedelta(minutes=14))["stale"] is False
    assert queries.team_status(repo, "SF", None, NOW + dt.timedelta(minutes=16))["stale"] is True


def test_context_has_the_current_game_last_results_record_and_hints(espn_server: ScoreboardServer,
                                                                      poller: SportsPoller,
                                                                      repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 2, 3)
    context = queries.team_context(repo, "SF", None, NOW)
    assert context["current_game"]["game_id"] == SF_GAME and context["current_game"]["status"] == "live"
    assert context["last_results"] == []
    assert context["season_record"] == {"wins": 7, "losses": 4, "ties": 0, "overtime_losses": 0, "summary": "7-4",
                                        "source": "espn"}
    assert "game live: dim lights, TV scene on" in context["recommendations"]
    assert "SF leading: team colours" in context["recommendations"]


def test_context_after_a_win_lists_the_result(espn_server: ScoreboardServer, poller: SportsPoller,
                                              repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 2, 8)
    context = queries.team_context(repo, "SF", None, NOW)
    assert context["current_game"] is None
    assert context["last_results"] == [{"game_id": SF_GAME, "date": "2025-11-23T21:25:00.000000Z", "opponent": "SEA",
                                        "home": True, "score": {"team": 17, "opponent": 10}, "result": "W"}]
    assert context["season_record"]["summary"] == "8-4"
    assert "recent win: celebration lights" in context["recommendations"]


def test_nhl_record_reports_overtime_losses(espn_server: ScoreboardServer, poller: SportsPoller,
                                            repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 7)
    record = queries.team_context(repo, "BOS", "nhl", NOW)["season_record"]
    assert (record["wins"], record["losses"], record["overtime_losses"], record["ties"]) == (13, 8, 2, 0)


def test_timeline_lists_the_observed_changes(espn_server: ScoreboardServer, poller: SportsPoller,
                                             repo: GamesRepository) -> None:
    _at(espn_server, poller, 1, 2, 3, 4)
    timeline = queries.timeline(repo, SF_GAME)
    assert (timeline["home"]["abbreviation"], timeline["away"]["abbreviation"]) == ("SF", "SEA")
    assert [(p["home_score"], p["away_score"], p["status"]) for p in timeline["points"]] == [
        (0, 0, "scheduled"), (0, 0, "live"), (7, 0, "live"), (7, 10, "live")]


def test_an_unknown_game_is_a_404(repo: GamesRepository) -> None:
    with pytest.raises(NotFound) as caught:
        queries.timeline(repo, "999")
    assert status_of(caught.value) == 404


def test_games_page_through_newest_first(espn_server: ScoreboardServer, poller: SportsPoller,
                                         repo: GamesRepository) -> None:
    _at(espn_server, poller, 1)
    first = queries.games(repo, None, None, None, None, 1, None)
    second = queries.games(repo, None, None, None, None, 1, first["next_cursor"])
    assert [g["game_id"] for g in first["items"] + second["items"]] == ["401803301", "401772945"]
    assert second["next_cursor"] is None
    assert [g["game_id"] for g in queries.games(repo, "sf", "nfl", "scheduled", 2025, 10, None)["items"]] == [SF_GAME]


def _get(api: Api, path: str, **query: str) -> tuple[int, Any]:
    try:
        response = api.handle(SimpleNamespace(path=path, method="GET", query=query, headers={}, body=b""))
    except (Problem, HTTPError) as exc:  # the template's entry answers these
        response = from_error(exc)
    return response["statusCode"], jsoncodec.loads(response["body"])


@pytest.fixture
def api(repo: GamesRepository, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("METADATA_DB_URL", str(repo.engine.url))
    routes.repository.cache_clear()
    yield Api("test", "1", "", routes.routes())
    routes.repository.cache_clear()


def test_the_routes_check_their_parameters(api: Api) -> None:
    assert _get(api, "/sports/games", league="mlb")[0] == 400
    assert _get(api, "/sports/games", limit="0")[0] == 400
    status, body = _get(api, "/sports/games", cursor="garbage")
    assert (status, body["error"]["code"]) == (400, "bad_parameter")
    assert _get(api, "/sports/teams/SF/status", league="nba")[0] == 400
    assert _get(api, "/sports/games/404/timeline")[0] == 404


def test_the_routes_answer_the_contract_shapes(espn_server: ScoreboardServer, poller: SportsPoller,
                                               api: Api) -> None:
    _at(espn_server, poller, 1, 2)
    status, body = _get(api, "/sports/teams/SF/status")
    assert status == 200 and body["team"] == "SF" and body["status"] in ("live", "scheduled", "final")
    assert _get(api, "/sports/teams/SF/context")[0] == 200
    assert _get(api, "/sports/games", team="SF")[1]["items"][0]["game_id"] == SF_GAME
    assert _get(api, f"/sports/games/{SF_GAME}/timeline")[1]["game_id"] == SF_GAME
    paths = _get(api, "/openapi.json")[1]["paths"]
    assert {"/sports/teams/{team}/status", "/sports/teams/{team}/context", "/sports/games",
            "/sports/games/{game_id}/timeline"} <= set(paths)
