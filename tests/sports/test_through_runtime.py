"""sports-poll through the real local runtime: gateway, real NATS JetStream, the function as its own process,
`write` storing the score series; ESPN is the recorded scoreboard served in sequence on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import store, subjects
from ingestor.sports import queries
from ingestor.sports.repository import GamesRepository
from ingestor.store.model import EventFilter
from tests.sports.espn_server import ScoreboardServer, steps
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.sports.yml"
SF_GAME, BOS_GAME = "401772945", "401803301"
SF_EVENTS = ["game_started"] + ["score_changed"] * 4 + ["game_ended"]
BOS_EVENTS = ["game_started"] + ["score_changed"] * 3 + ["game_ended"]


@pytest.fixture
def runtime(tmp_path: Path, espn: ScoreboardServer) -> Iterator[LocalRuntime]:
    with LocalRuntime(tmp_path, stack=STACK, env={"TEST_ESPN_URL": espn.url}) as rt:
        yield rt


@pytest.fixture
def js(runtime: LocalRuntime) -> Iterator[JetStreamClient]:
    client = JetStreamClient(runtime.nats_url)
    yield client
    client.close()


def tick(runtime: LocalRuntime) -> dict[str, Any]:
    """What the cron connector does each minute: POST with an empty body, signed."""
    reply = runtime.signed_call("POST", "sports-poll")
    assert reply.status == 200, reply.body[:500]
    return {o["league"]: o for o in reply.json()["outcomes"]}


def step_to(espn: ScoreboardServer, runtime: LocalRuntime, nfl: int, nhl: int) -> dict[str, Any]:
    espn.step = {"nfl": nfl, "nhl": nhl}
    return tick(runtime)


def game_events(js: JetStreamClient) -> list[tuple[str, str]]:
    return [(e["game_id"], e["event_type"]) for e in js.events(subjects.SPORTS_EVENTS)]


def repo_of(runtime: LocalRuntime) -> GamesRepository:
    return GamesRepository(f"sqlite:///{runtime.workdir}/data/metadata.db")


def test_the_scoreboard_sequence_puts_exactly_the_expected_events_on_sports_events(
        runtime: LocalRuntime, espn: ScoreboardServer, js: JetStreamClient) -> None:
    for step in range(1, max(steps("nfl"), steps("nhl")) + 1):
        step_to(espn, runtime, min(step, steps("nfl")), min(step, steps("nhl")))
    events = js.events(subjects.SPORTS_EVENTS)
    assert [e["event_type"] for e in events if e["game_id"] == SF_GAME] == SF_EVENTS
    assert [e["event_type"] for e in events if e["game_id"] == BOS_GAME] == BOS_EVENTS
    assert len(events) == len(SF_EVENTS) + len(BOS_EVENTS), "games of teams not followed must not appear"
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["domain"] == "sports" and e["teams"] for e in events)
    assert all(m.msg_id and m.msg_id.startswith("sports-") for m in js.stored(subjects.SPORTS_EVENTS))
    final = [e for e in events if e["game_id"] == SF_GAME][-1]
    assert (final["status"], final["home"]["score"], final["away"]["score"]) == ("final", 17, 10)


def test_the_scores_land_in_the_event_store_as_series(runtime: LocalRuntime, espn: ScoreboardServer) -> None:
    for step in (1, 2, 3, 4):
        step_to(espn, runtime, step, 1)
    events = store.open_event_store(f"sqlite:///{runtime.workdir}/data/events.db")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    def stored(side: str) -> list[float]:
        page = events.query(EventFilter(start=since, entity_id=f"sports.nfl_{SF_GAME}_{side}_score"), limit=50)
        return [e["state_value"] for e in sorted(page.items, key=lambda e: e["time_fired"])]

    # one sample per side per change of score or status while live: kickoff 0-0, 7-0, then 7-10 at halftime
    assert wait_for(lambda: len(stored("home")) == 3 and len(stored("away")) == 3, 30), stored("away")
    assert (stored("home"), stored("away")) == ([0.0, 7.0, 7.0], [0.0, 0.0, 10.0])
    events.close()


def test_espn_down_serves_the_last_known_state_as_stale_without_events(
        runtime: LocalRuntime, espn: ScoreboardServer, js: JetStreamClient) -> None:
    for step in (1, 2, 3):
        step_to(espn, runtime, step, step)
    before = game_events(js)
    espn.mode = "down"
    results = [tick(runtime)["nfl"]["result"] for _ in range(4)]
    assert results == ["failed", "failed", "breaker_open", "breaker_open"]
    status = call("GET", f"{runtime.gateway}/function/sports-poll/status").json()["leagues"]["nfl"]
    assert (status["breaker"], status["feed"]["errors_total"], status["last_error"]) == ("open", 2, "HTTP 503")
    function_url = runtime.ready["functions"]["sports-poll"]
    assert sample(f"{function_url}/_/metrics", "ha_ingestor_sports_errors_total", league="nfl") == 2
    served = queries.team_status(repo_of(runtime), "SF", None, dt.datetime.now(dt.UTC))
    assert (served["stale"], served["is_playing"], served["score"]) == (True, True, {"team": 7, "opponent": 0})
    assert game_events(js) == before


def test_a_restarted_function_does_not_emit_again(runtime: LocalRuntime, espn: ScoreboardServer,
                                                  js: JetStreamClient) -> None:
    for step in (1, 2, 3):
        step_to(espn, runtime, step, 1)
    before = game_events(js)
    old_pid = runtime.function_pid("sports-poll")
    runtime.kill_function("sports-poll")
    assert wait_for(lambda: _restarted(runtime, old_pid), 30), "the supervisor restarts the function"
    tick(runtime)
    assert game_events(js) == before
    step_to(espn, runtime, 4, 1)
    assert game_events(js) == before + [(SF_GAME, "score_changed")]


def _restarted(runtime: LocalRuntime, old_pid: int) -> bool:
    try:
        if runtime.function_pid("sports-poll") == old_pid:
            return False
        # through the gateway: it routes to the function only once the supervisor has seen it ready
        return call("GET", f"{runtime.gateway}/function/sports-poll/status", timeout=5).status == 200
    except (LookupError, OSError):
        return False


def test_get_status_and_config_describe_the_poller(runtime: LocalRuntime, espn: ScoreboardServer) -> None:
    step_to(espn, runtime, 2, 1)
    config = call("GET", f"{runtime.gateway}/function/sports-poll/config").json()
    assert config["teams"] == {"nfl": ["SF"], "nhl": ["BOS"]} and config["base_url"] == espn.url
    status = call("GET", f"{runtime.gateway}/function/sports-poll/status").json()
    assert status["leagues"]["nfl"]["breaker"] == "closed" and status["leagues"]["nfl"]["last_poll"]["result"] == \
        "fetched"
    assert runtime.signed_call("GET", "sports-poll/nope").status == 404  # a GET never polls
    assert runtime.signed_call("PUT", "sports-poll").status == 405
