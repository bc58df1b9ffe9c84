"""Reading ESPN's scoreboard format: what each field becomes, and what is refused."""

from __future__ import annotations

import copy

import pytest

from ingestor.sports import espn
from ingestor.sports.model import Game
from tests.sports.espn_server import recorded


def _sf(step: int) -> Game:
    return next(g for g in espn.parse(recorded("nfl", step), "nfl") if g.involves("SF"))


def test_a_scheduled_game_is_read_with_teams_start_time_and_records() -> None:
    game = _sf(1)
    assert (game.game_id, game.league, game.status, game.season) == ("401772945", "nfl", "scheduled", 2025)
    assert game.start_time == "2025-11-23T21:25:00.000000Z"
    assert (game.home.abbreviation, game.home.name, game.home.record) == ("SF", "San Francisco 49ers", "7-4")
    assert (game.away.abbreviation, game.away.score) == ("SEA", 0)
    assert game.name == "SEA @ SF"


def test_a_live_game_carries_scores_period_and_clock() -> None:
    game = _sf(3)
    assert (game.status, game.home.score, game.away.score, game.period, game.clock) == ("live", 7, 0, 1, "8:21")
    assert game.detail == "8:21 - 1st"


def test_halftime_and_end_of_period_are_live() -> None:
    assert _sf(4).status == "live" and _sf(4).detail == "Halftime"
    bos = next(g for g in espn.parse(recorded("nhl", 4), "nhl") if g.involves("BOS"))
    assert (bos.status, bos.detail, bos.period) == ("live", "End of 1st", 1)


def test_a_completed_game_is_final() -> None:
    game = _sf(8)
    assert (game.status, game.home.score, game.away.score, game.home.record) == ("final", 17, 10, "8-4")


def test_nhl_records_keep_overtime_losses() -> None:
    bos = next(g for g in espn.parse(recorded("nhl", 7), "nhl") if g.involves("BOS"))
    assert (bos.away.abbreviation, bos.away.record, bos.season) == ("BOS", "13-8-2", 2026)


def test_postponed_and_canceled_are_not_final() -> None:
    assert espn.status_of({"name": "STATUS_POSTPONED", "state": "post", "completed": False}) == "postponed"
    assert espn.status_of({"name": "STATUS_CANCELED", "state": "post", "completed": False}) == "canceled"


@pytest.mark.parametrize("document", [{"unexpected": True}, [], "text", {"events": "no"}])
def test_a_document_that_is_not_a_scoreboard_is_refused(document: object) -> None:
    with pytest.raises(espn.FeedError):
        espn.parse(document, "nfl")


def test_a_malformed_event_is_skipped_and_the_rest_read() -> None:
    doc = recorded("nfl", 2)
    broken = copy.deepcopy(doc["events"][1])
    del broken["competitions"][0]["competitors"][0]["team"]
    doc["events"].insert(0, broken)
    doc["events"].append({"id": "x", "competitions": []})
    games = espn.parse(doc, "nfl")
    assert [g.game_id for g in games] == ["401772760", "401772945", "401772946"]


def test_the_scoreboard_paths_are_espns() -> None:
    assert espn.scoreboard_path("nfl") == "/apis/site/v2/sports/football/nfl/scoreboard"
    assert espn.scoreboard_path("nhl") == "/apis/site/v2/sports/hockey/nhl/scoreboard"
