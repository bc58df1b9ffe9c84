"""sports-poll's handler: the cron's POST polls the followed teams; GET /config and /status describe the poller."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sports.espn_server import ScoreboardServer
from tests.support.function import invoke, load_handler


def test_followed_teams_are_polled_from_the_scoreboard_and_shown(process: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 espn_server: ScoreboardServer) -> None:
    monkeypatch.setenv("SPORTS_TEAMS", "nfl:SF")
    monkeypatch.setenv("ESPN_BASE_URL", espn_server.url)
    handler = load_handler("sports-poll")
    status, polled = invoke(handler, "POST", "/")
    assert status == 200 and polled["result"] == "polled"
    status, config = invoke(handler, "GET", "/config")
    assert status == 200 and config["teams"] == {"nfl": ["SF"]} and config["base_url"] == espn_server.url
    assert invoke(handler, "GET", "/status")[1]["leagues"]["nfl"]["breaker"] == "closed"


def test_a_poll_is_a_post_and_reads_are_gets(process: Path) -> None:
    handler = load_handler("sports-poll")
    assert invoke(handler, "PUT", "/")[0] == 405
    assert invoke(handler, "GET", "/nope")[0] == 404
