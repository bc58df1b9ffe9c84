"""The sports endpoints as the query function serves them (its own process, the template's entry), over
games the poller recorded in the shared metadata DB."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestor.sports.poller import SportsPoller
from tests.sports.espn_server import ScoreboardServer
from tests.support.function import served
from tests.support.http import call
from tests.support.runtime import REPO

pytestmark = pytest.mark.integration


def test_query_serves_status_context_games_and_timeline(tmp_path: Path, espn_server: ScoreboardServer,
                                                        poller: SportsPoller) -> None:
    for step in (1, 2, 3):
        espn_server.step = {"nfl": step, "nhl": step}
        poller.poll()
    env = {"METADATA_DB_URL": str(poller.repo.engine.url), "EVENT_STORE_URL": f"sqlite:///{tmp_path}/events.db"}
    with served(REPO / "functions" / "query", "query", tmp_path / "query.log", env) as url:
        status = call("GET", f"{url}/sports/teams/SF/status").json()
        assert (status["is_playing"], status["score"], status["opponent"], status["time_remaining"]) == (
            True, {"team": 7, "opponent": 0}, "SEA", "8:21")
        context = call("GET", f"{url}/sports/teams/BOS/context?league=nhl").json()
        assert context["current_game"]["away"] == {"abbreviation": "BOS", "name": "Boston Bruins", "score": 1}
        assert [g["game_id"] for g in call("GET", f"{url}/sports/games?team=SF").json()["items"]] == ["401772945"]
        timeline = call("GET", f"{url}/sports/games/401772945/timeline").json()
        assert [(p["home_score"], p["away_score"]) for p in timeline["points"]] == [(0, 0), (0, 0), (7, 0)]
        bad = call("GET", f"{url}/sports/games?status=halftime")
        assert bad.status == 400 and bad.json()["error"]["code"] == "bad_parameter"
        assert call("GET", f"{url}/sports/games/0/timeline").status == 404
