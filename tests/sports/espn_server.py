"""A stand-in for ESPN's scoreboard (unreachable from here): serves the recorded documents of
tests/sports/recorded in a sequence the test steps through, per league, in ESPN's real format.

`step[league]` picks `<league>_<step>_*.json`; a `dates=` query gets `<league>_upcoming.json`. `mode` can make
it answer 503 (down), non-JSON (garbage) or hang. `shift` moves every game's dates, so a recorded game can be
made to start "now" for the tests that depend on the clock.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from tests.support.standin import StandIn

RECORDED = Path(__file__).resolve().parent / "recorded"
LEAGUE_OF_PATH = {"/apis/site/v2/sports/football/nfl/scoreboard": "nfl",
                  "/apis/site/v2/sports/hockey/nhl/scoreboard": "nhl"}
KICKOFF = dt.datetime(2025, 11, 23, 21, 25, tzinfo=dt.UTC)  # the recorded SF game's start


def recorded(league: str, step: int | str) -> dict[str, Any]:
    name = f"{league}_upcoming.json" if step == "upcoming" else next(RECORDED.glob(f"{league}_{step}_*.json")).name
    return json.loads((RECORDED / name).read_text())


def steps(league: str) -> int:
    return len(list(RECORDED.glob(f"{league}_[0-9]_*.json")))


def shifted(doc: dict[str, Any], delta: dt.timedelta) -> dict[str, Any]:
    """Every event's and competition's dates moved by `delta`, in ESPN's own "2025-11-23T21:25Z" form."""
    def move(value: str) -> str:
        return (dt.datetime.fromisoformat(value) + delta).strftime("%Y-%m-%dT%H:%MZ")

    for event in doc["events"]:
        event["date"] = move(event["date"])
        for competition in event["competitions"]:
            competition["date"] = move(competition["date"])
            competition["startDate"] = move(competition["startDate"])
    return doc


class ScoreboardServer(StandIn):
    content_type = "application/json;charset=UTF-8"

    def __init__(self) -> None:
        super().__init__()  # mode: ok | down | garbage | slow
        self.step: dict[str, int] = {"nfl": 1, "nhl": 1}
        self.dates_down = False  # only the next days' requests (?dates=) fail
        self.shift = dt.timedelta(0)

    def answer(self, path: str, query: str) -> tuple[int, bytes]:
        if self.mode == "down" or (self.dates_down and "dates=" in query):
            return 503, b"<html><body>503 Service Unavailable</body></html>"
        if self.mode == "garbage":
            return 200, b"<html>maintenance"
        if self.mode == "slow":
            time.sleep(6)
        league = LEAGUE_OF_PATH.get(path)
        if league is None:
            return 404, b'{"code":404,"message":"Failed to get scoreboard"}'
        doc = recorded(league, "upcoming" if "dates=" in query else self.step[league])
        return 200, json.dumps(shifted(doc, self.shift)).encode()
