"""sports-poll's handler: the cron's POST polls the followed teams; GET /config and /status describe the poller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sports.espn_server import ScoreboardServer
from tests.support.function import TEMPLATE_ENTRY, invoke, load_handler
from tests.support.runtime import REPO, pythonpath


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


SPORTS_OFF_TICK = """
import importlib.util, json, sys

spec = importlib.util.spec_from_file_location("index", sys.argv[1])  # the template entry, as the process runs it
index = importlib.util.module_from_spec(spec)
spec.loader.exec_module(index)
client = index.app.test_client()
answers = [(r.status_code, r.get_json()) for r in (client.post("/"), client.get("/status"), client.get("/_/health"))]
print(json.dumps({"answers": answers, "loaded": [m for m in ("requests", "sqlalchemy") if m in sys.modules]}))
"""


def test_with_no_team_followed_a_tick_answers_off_and_loads_neither_requests_nor_sqlalchemy(process: Path) -> None:
    """Sports off (the default): the process the cron starts every minute stays small."""
    env = {**os.environ, "PYTHONPATH": pythonpath(), "SPORTS_TEAMS": "",
           "FUNCTION_ROOT": str(REPO / "functions" / "sports-poll"), "FUNCTION_NAME": "sports-poll"}
    done = subprocess.run([sys.executable, "-c", SPORTS_OFF_TICK, str(TEMPLATE_ENTRY)], env=env, capture_output=True,
                          timeout=60, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == {"answers": [
        [200, {"result": "off", "outcomes": []}], [200, {"leagues": {}, "problems": []}],
        [200, {"status": "ok", "degraded": [], "problems": [], "leagues": []}]], "loaded": []}
