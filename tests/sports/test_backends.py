"""The games repository behaves the same on SQLite and PostgreSQL (the metadata DB may be either)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from ingestor.sports import queries
from ingestor.sports.poller import SportsPoller
from ingestor.sports.repository import GamesRepository
from tests.sports.conftest import Published, settings_for
from tests.sports.espn_server import ScoreboardServer, steps

NOW = dt.datetime(2025, 11, 23, 22, 30, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_repo(request: pytest.FixtureRequest, tmp_path: Path) -> GamesRepository:
    if request.param == "sqlite":
        return GamesRepository(f"sqlite:///{tmp_path}/metadata.db")
    return GamesRepository(request.getfixturevalue("postgres").new_database())


def test_the_sequence_records_events_timeline_and_feed_state(espn_server: ScoreboardServer,
                                                             any_repo: GamesRepository) -> None:
    published = Published()
    poller = SportsPoller(settings_for(espn_server.url, breaker_threshold=1), any_repo, published)
    for step in range(1, steps("nfl") + 1):
        espn_server.step = {"nfl": step, "nhl": min(step, steps("nhl"))}
        poller.poll(now=NOW + dt.timedelta(minutes=step))
    assert [kind for game, kind in published.events() if game == "401772945"] == \
        ["game_started"] + ["score_changed"] * 4 + ["game_ended"]
    assert len(any_repo.timeline("401772945")) == 7
    espn_server.mode = "down"
    poller.poll(now=NOW + dt.timedelta(minutes=10))
    poller.poll(now=NOW + dt.timedelta(minutes=11))
    feed = any_repo.feeds()["nfl"]
    assert (feed["result"], feed["errors_total"], feed["breaker"]) == ("breaker_open", 1, "open")
    assert feed["last_success_at"] == "2025-11-23T22:38:00.000000Z"
    context = queries.team_context(any_repo, "SF", "nfl", NOW)
    assert [r["result"] for r in context["last_results"]] == ["W"] and context["stale"] is True
    page = queries.games(any_repo, "sf", None, None, None, 1, None)
    assert page["items"][0]["game_id"] == "401772945" and page["next_cursor"] is None


def test_a_new_poller_takes_up_the_saved_feeds_and_breaker(espn_server: ScoreboardServer,
                                                          any_repo: GamesRepository) -> None:
    config = settings_for(espn_server.url, breaker_threshold=1, live_ttl_s=300, upcoming_ttl_s=300)
    espn_server.step = {"nfl": 1, "nhl": 1}
    SportsPoller(config, any_repo, Published()).poll(now=NOW)
    espn_server.mode = "down"
    SportsPoller(config, any_repo, Published()).poll(now=NOW)  # fresh: served from the saved feeds
    assert espn_server.total() == 2
    stale = dataclasses.replace(config, live_ttl_s=0, upcoming_ttl_s=0)
    assert [o.result for o in SportsPoller(stale, any_repo, Published()).poll(now=NOW)] == ["failed", "failed"]
    assert [o.result for o in SportsPoller(stale, any_repo, Published()).poll(now=NOW)] == ["breaker_open"] * 2
    assert espn_server.total() == 4
