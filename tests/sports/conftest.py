"""Fixtures of the sports tests: the scoreboard stand-in, a games repository, an in-process poller."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import subjects
from ingestor.errors import Unavailable
from ingestor.sports.poller import SportsPoller
from ingestor.sports.repository import GamesRepository
from ingestor.sports.settings import Settings, parse_teams
from tests.sports.espn_server import ScoreboardServer


@pytest.fixture
def espn_server() -> Iterator[ScoreboardServer]:
    server = ScoreboardServer()
    yield server
    server.close()


@pytest.fixture
def espn(espn_server: ScoreboardServer) -> ScoreboardServer:
    """The same stand-in, by the name the runtime tests use."""
    return espn_server


@pytest.fixture
def repo(tmp_path: Path) -> GamesRepository:
    return GamesRepository(f"sqlite:///{tmp_path}/metadata.db")


def settings_for(url: str, **changes: Any) -> Settings:
    teams, problems = parse_teams(["nfl:SF", "nhl:BOS"])
    base = Settings(teams=teams, problems=problems, base_url=url, live_ttl_s=0, upcoming_ttl_s=0, upcoming_days=0,
                    timeout_s=2, breaker_threshold=3, breaker_reset_s=300, rate_per_min=1000, loop_s=0)
    return dataclasses.replace(base, **changes)


class Published:
    """What the poller handed to the bus, by subject."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.fail = False

    def __call__(self, subject: str, batch_id: str, records: list[dict[str, Any]]) -> None:
        if self.fail:
            raise Unavailable("publish to sports.events not acknowledged: TimeoutError")
        self.batches.append((subject, batch_id, records))

    def records(self, subject: str) -> list[dict[str, Any]]:
        return [r for s, _, batch in self.batches if s == subject for r in batch]

    def events(self) -> list[tuple[str, str]]:
        return [(r["game_id"], r["event_type"]) for r in self.records(subjects.SPORTS_EVENTS)]


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def poller(espn_server: ScoreboardServer, repo: GamesRepository, published: Published) -> SportsPoller:
    return SportsPoller(settings_for(espn_server.url), repo, published)
