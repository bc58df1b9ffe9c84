"""Which game events a change of a game's state makes."""

from __future__ import annotations

import dataclasses

from ingestor.sports import detect, espn
from ingestor.sports.model import Game, Side
from tests.sports.espn_server import recorded, steps


def _game(status: str, home: int | None = 0, away: int | None = 0) -> Game:
    return Game("g1", "nfl", status, Side("SF", "49ers", home), Side("SEA", "Seahawks", away), period=1, clock="9:00")


def test_the_recorded_sf_game_makes_start_four_scores_and_end() -> None:
    previous: Game | None = None
    seen = []
    for step in range(1, steps("nfl") + 1):
        game = next(g for g in espn.parse(recorded("nfl", step), "nfl") if g.involves("SF"))
        change = detect.diff(previous, game)
        seen += change.events
        previous = game if change.record else previous
    assert seen == ["game_started"] + ["score_changed"] * 4 + ["game_ended"]


def test_a_game_first_seen_live_starts_once() -> None:
    assert detect.diff(None, _game("live", 7, 3)).events == ["game_started"]
    assert detect.diff(_game("live", 7, 3), _game("live", 7, 3)).events == []


def test_a_final_never_seen_live_only_ends() -> None:
    assert detect.diff(None, _game("final", 21, 3)).events == ["game_ended"]
    assert detect.diff(_game("scheduled"), _game("final", 21, 3)).events == ["game_ended"]


def test_a_score_in_the_last_poll_before_final_is_a_score_change_then_the_end() -> None:
    assert detect.diff(_game("live", 14, 10), _game("final", 17, 10)).events == ["score_changed", "game_ended"]


def test_a_clock_change_alone_is_stored_without_event_or_timeline_point() -> None:
    change = detect.diff(_game("live", 7, 0), dataclasses.replace(_game("live", 7, 0), clock="3:00", period=2))
    assert (change.record, change.point, change.events) == (True, False, [])


def test_a_final_game_and_a_lagging_scoreboard_change_nothing() -> None:
    assert detect.diff(_game("final", 17, 10), _game("final", 17, 13)) == detect.Diff(False, False)
    assert detect.diff(_game("live", 7, 0), _game("scheduled")) == detect.Diff(False, False)


def test_a_postponed_game_makes_no_event() -> None:
    assert detect.diff(_game("scheduled"), _game("postponed")).events == []


def test_event_ids_are_deterministic_and_distinct_per_change() -> None:
    before, after = _game("live", 7, 0), _game("live", 14, 0)
    first = detect.event(after, "score_changed", before, "2025-11-23T22:00:00.000000Z")
    again = detect.event(after, "score_changed", before, "2025-11-23T22:00:15.000000Z")
    other = detect.event(_game("live", 14, 3), "score_changed", after, "2025-11-23T22:00:15.000000Z")
    assert first["event_id"] == again["event_id"] != other["event_id"]
    assert len(first["event_id"]) == 32


def test_the_event_has_the_contract_shape() -> None:
    event = detect.event(_game("live", 14, 0), "score_changed", _game("live", 7, 0), "2025-11-23T22:00:00.000000Z")
    assert {k: event[k] for k in ("event_type", "domain", "league", "game_id", "teams", "status", "previous")} == {
        "event_type": "score_changed", "domain": "sports", "league": "nfl", "game_id": "g1", "teams": ["SF", "SEA"],
        "status": "live", "previous": {"home_score": 7, "away_score": 0}}
    assert event["home"] == {"abbreviation": "SF", "name": "49ers", "score": 14}
    assert detect.event(_game("live"), "game_started", None, "2025-11-23T22:00:00.000000Z")["previous"] is None
