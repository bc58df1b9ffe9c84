"""sports-poll's work in one process: a real HTTP scoreboard stand-in, a real SQLite metadata DB; what would
go to NATS is captured (the runtime tests cover the bus)."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qs

from ingestor import record, subjects
from ingestor.sports.poller import SportsPoller
from ingestor.sports.repository import GamesRepository
from tests.sports.conftest import Published, settings_for
from tests.sports.espn_server import ScoreboardServer, steps

SF_GAME, BOS_GAME = "401772945", "401803301"
SF_EVENTS = [(SF_GAME, "game_started")] + [(SF_GAME, "score_changed")] * 4 + [(SF_GAME, "game_ended")]
BOS_EVENTS = [(BOS_GAME, "game_started")] + [(BOS_GAME, "score_changed")] * 3 + [(BOS_GAME, "game_ended")]


def _run_sequence(server: ScoreboardServer, poller: SportsPoller) -> None:
    for step in range(1, max(steps("nfl"), steps("nhl")) + 1):
        server.step = {"nfl": min(step, steps("nfl")), "nhl": min(step, steps("nhl"))}
        poller.poll()


def test_the_sequence_emits_exactly_the_followed_games_events(espn_server: ScoreboardServer,
                                                              poller: SportsPoller, published: Published) -> None:
    _run_sequence(espn_server, poller)
    events = published.events()
    assert [e for e in events if e[0] == SF_GAME] == SF_EVENTS
    assert [e for e in events if e[0] == BOS_GAME] == BOS_EVENTS
    assert len(events) == len(SF_EVENTS) + len(BOS_EVENTS)  # KC-BUF, DAL-PHI, NYR-MTL are not followed


def test_score_changes_carry_the_previous_score(espn_server: ScoreboardServer, poller: SportsPoller,
                                               published: Published) -> None:
    _run_sequence(espn_server, poller)
    changes = [(e["previous"], e["home"]["score"], e["away"]["score"])
               for e in published.records(subjects.SPORTS_EVENTS)
               if e["game_id"] == SF_GAME and e["event_type"] == "score_changed"]
    assert changes == [({"home_score": 0, "away_score": 0}, 7, 0), ({"home_score": 7, "away_score": 0}, 7, 10),
                       ({"home_score": 7, "away_score": 10}, 14, 10), ({"home_score": 14, "away_score": 10}, 17, 10)]


def test_scores_are_published_as_series_samples_the_store_accepts(espn_server: ScoreboardServer,
                                                                 poller: SportsPoller, published: Published) -> None:
    _run_sequence(espn_server, poller)
    samples = published.records(subjects.CONTEXT_SAMPLES)
    assert all(record.problem(s) is None for s in samples)
    home = [s["state_value"] for s in samples if s["entity_id"] == f"sports.nfl_{SF_GAME}_home_score"]
    away = [s["state_value"] for s in samples if s["entity_id"] == f"sports.nfl_{SF_GAME}_away_score"]
    assert home == [0.0, 7.0, 7.0, 14.0, 17.0, 17.0] and away == [0.0, 0.0, 10.0, 10.0, 10.0, 10.0]


def test_the_timeline_has_one_point_per_change_of_score_or_status(espn_server: ScoreboardServer,
                                                                  poller: SportsPoller, repo: GamesRepository) -> None:
    _run_sequence(espn_server, poller)
    points = [(p["status"], p["home_score"], p["away_score"], p["period"]) for p in repo.timeline(SF_GAME)]
    assert points == [("scheduled", 0, 0, 0), ("live", 0, 0, 1), ("live", 7, 0, 1), ("live", 7, 10, 2),
                      ("live", 14, 10, 3), ("live", 17, 10, 4), ("final", 17, 10, 4)]


def test_a_restarted_poller_does_not_emit_again(espn_server: ScoreboardServer, poller: SportsPoller,
                                                repo: GamesRepository, published: Published) -> None:
    espn_server.step = {"nfl": 3, "nhl": 3}
    poller.poll()
    before = len(published.events())
    SportsPoller(poller.settings, GamesRepository(str(repo.engine.url)), published).poll()
    assert len(published.events()) == before


def test_a_failed_publish_stores_nothing_and_the_next_poll_sends_the_same_events(
        espn_server: ScoreboardServer, poller: SportsPoller, published: Published, repo: GamesRepository) -> None:
    espn_server.step = {"nfl": 2, "nhl": 1}
    published.fail = True
    try:
        poller.poll()
    except Exception as exc:  # the handler answers 503; the next cron tick retries
        assert "not acknowledged" in str(exc)
    assert repo.game(SF_GAME) is None
    published.fail = False
    poller.poll()
    assert published.events() == [(SF_GAME, "game_started")]


def test_espn_down_counts_errors_opens_the_breaker_and_emits_nothing(
        espn_server: ScoreboardServer, poller: SportsPoller, published: Published, repo: GamesRepository) -> None:
    espn_server.step = {"nfl": 3, "nhl": 3}
    poller.poll()
    emitted = len(published.events())
    espn_server.mode = "down"
    results = [o.result for _ in range(5) for o in poller.poll() if o.league == "nfl"]
    assert results == ["failed", "failed", "failed", "breaker_open", "breaker_open"]
    assert espn_server.requests["/apis/site/v2/sports/football/nfl/scoreboard"] == 1 + 3
    assert len(published.events()) == emitted
    feed = repo.feeds()["nfl"]
    assert (feed["breaker"], feed["errors_total"], feed["last_error"]) == ("open", 3, "HTTP 503")
    assert repo.game(SF_GAME).home.score == 7  # the last known state is kept


def test_after_an_outage_the_changes_missed_are_reported_once(espn_server: ScoreboardServer, repo: GamesRepository,
                                                              published: Published) -> None:
    poller = SportsPoller(settings_for(espn_server.url, breaker_reset_s=0), repo, published)
    for step in (2, 3):
        espn_server.step = {"nfl": step, "nhl": 1}
        poller.poll()
    espn_server.mode = "garbage"
    poller.poll()
    espn_server.mode, espn_server.step = "ok", {"nfl": 5, "nhl": 1}
    poller.poll()
    changes = [e for e in published.records(subjects.SPORTS_EVENTS) if e["event_type"] == "score_changed"]
    assert [(c["previous"], c["home"]["score"], c["away"]["score"]) for c in changes] == [
        ({"home_score": 0, "away_score": 0}, 7, 0), ({"home_score": 7, "away_score": 0}, 14, 10)]


def test_a_fresh_feed_is_served_from_the_cache(espn_server: ScoreboardServer, repo: GamesRepository,
                                               published: Published) -> None:
    poller = SportsPoller(settings_for(espn_server.url, live_ttl_s=15, upcoming_ttl_s=300), repo, published)
    espn_server.step = {"nfl": 1, "nhl": 1}  # nothing live, nothing about to start: the upcoming TTL applies
    assert [o.result for o in poller.poll()] == ["fetched", "fetched"]
    assert [o.result for o in poller.poll()] == ["cached", "cached"]
    assert espn_server.total() == 2


def test_a_new_poller_process_serves_a_fresh_feed_from_what_the_last_one_saved(
        espn_server: ScoreboardServer, repo: GamesRepository, published: Published) -> None:
    """sports-poll is stopped between cron ticks: a feed fresh for five minutes is not fetched every minute."""
    config = settings_for(espn_server.url, live_ttl_s=15, upcoming_ttl_s=300)
    espn_server.step = {"nfl": 1, "nhl": 1}
    assert [o.result for o in SportsPoller(config, repo, published).poll()] == ["fetched", "fetched"]
    again = SportsPoller(config, repo, published)
    assert [o.result for o in again.poll()] == ["cached", "cached"]
    assert espn_server.total() == 2
    assert again.live() is False and again.status()["nfl"]["cached_games"] == {"today": 1}


def test_an_open_breaker_survives_a_restart(espn_server: ScoreboardServer, repo: GamesRepository,
                                            published: Published) -> None:
    espn_server.mode = "down"
    first = SportsPoller(settings_for(espn_server.url), repo, published)
    for _ in range(3):
        first.poll()
    asked = espn_server.total()
    second = SportsPoller(settings_for(espn_server.url), repo, published)
    assert [o.result for o in second.poll()] == ["breaker_open", "breaker_open"]
    assert espn_server.total() == asked
    assert second.status()["nfl"]["breaker"] == "open"


def test_a_live_game_uses_the_short_ttl(espn_server: ScoreboardServer, repo: GamesRepository,
                                        published: Published) -> None:
    now = [1000.0]
    poller = SportsPoller(settings_for(espn_server.url, live_ttl_s=15, upcoming_ttl_s=300), repo, published,
                          clock=lambda: now[0])
    espn_server.step = {"nfl": 2, "nhl": 1}
    poller.poll()
    now[0] += 14
    assert [o.result for o in poller.poll()] == ["cached", "cached"]
    now[0] += 1
    assert [o.result for o in poller.poll()] == ["fetched", "cached"]  # NFL is live: 15 s; NHL's game is not


def test_a_live_game_is_polled_every_live_ttl_within_one_invocation(espn_server: ScoreboardServer,
                                                                    repo: GamesRepository,
                                                                    published: Published) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    poller = SportsPoller(settings_for(espn_server.url, live_ttl_s=15, upcoming_ttl_s=300, loop_s=48, timeout_s=3),
                          repo, published, clock=lambda: now[0], sleep=sleep)
    espn_server.step = {"nfl": 3, "nhl": 1}
    outcomes = poller.run()
    assert slept == [15.0, 15.0, 15.0]  # polls at 0, 15, 30, 45 s; 45 + 3 s timeout fits the 48 s budget
    assert [o.result for o in outcomes if o.league == "nfl"] == ["fetched"] * 4
    espn_server.step = {"nfl": 8, "nhl": 1}
    now[0] += 60
    slept.clear()
    poller.run()
    assert slept == []  # the game is over: one poll per tick


def test_next_days_games_come_from_the_dates_range(espn_server: ScoreboardServer, repo: GamesRepository,
                                                   published: Published) -> None:
    poller = SportsPoller(settings_for(espn_server.url, upcoming_days=7), repo, published)
    poller.poll()
    nxt = repo.game("401772990")
    assert nxt is not None and (nxt.status, nxt.home.abbreviation, nxt.away.abbreviation) == ("scheduled", "LAR", "SF")
    ranges = [parse_qs(q) for q in espn_server.queries if "dates=" in q]
    assert len(ranges) == 2 and all(re.fullmatch(r"\d{8}-\d{8}", q["dates"][0]) for q in ranges)
    assert published.events() == []


def test_only_configured_leagues_are_polled(espn_server: ScoreboardServer, repo: GamesRepository,
                                            published: Published) -> None:
    settings = settings_for(espn_server.url)
    poller = SportsPoller(dataclasses.replace(settings, teams={"nhl": settings.teams["nhl"]}), repo, published)
    poller.poll()
    assert list(espn_server.requests) == ["/apis/site/v2/sports/hockey/nhl/scoreboard"]


def test_a_concurrent_change_is_not_recorded_twice(espn_server: ScoreboardServer, repo: GamesRepository,
                                                   poller: SportsPoller) -> None:
    espn_server.step = {"nfl": 2, "nhl": 1}
    poller.poll()
    stale = repo.stored([SF_GAME])[SF_GAME]
    espn_server.step = {"nfl": 3, "nhl": 1}
    poller.poll()
    game = repo.game(SF_GAME)
    assert repo.record(game, stale, "2025-11-23T22:00:00.000000Z", point=True) is False
    assert len(repo.timeline(SF_GAME)) == 2


def test_a_failing_schedule_feed_does_not_hold_back_todays_events(espn_server: ScoreboardServer,
                                                                   repo: GamesRepository, published: Published) -> None:
    poller = SportsPoller(settings_for(espn_server.url, upcoming_days=7), repo, published)
    espn_server.step, espn_server.dates_down = {"nfl": 2, "nhl": 1}, True
    outcome = next(o for o in poller.poll() if o.league == "nfl")
    assert (outcome.result, outcome.error) == ("failed", "HTTP 503")
    assert published.events() == [(SF_GAME, "game_started")]
    assert repo.feeds()["nfl"]["errors_total"] == 1
