"""A webhook subscribed to a team gets that team's game events, end to end: scoreboard -> sports-poll ->
sports.events (real NATS) -> webhook-dispatch -> a receiver on 127.0.0.1 that checks the signature."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import apikeys
from tests.sports.espn_server import ScoreboardServer, steps
from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime
from tests.webhooks.receiver import Receiver, receiving

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.sports-webhooks.yml"
SECRET = "sports-end-to-end-secret-0042"
SF_GAME = "401772945"
SF_EVENTS = ["game_started"] + ["score_changed"] * 4 + ["game_ended"]


@pytest.fixture
def runtime(tmp_path: Path, espn: ScoreboardServer) -> Iterator[LocalRuntime]:
    with LocalRuntime(tmp_path, stack=STACK, env={"TEST_ESPN_URL": espn.url}) as rt:
        yield rt


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(SECRET) as rx:
        yield rx


def register(runtime: LocalRuntime, url: str, filters: dict[str, Any]) -> dict[str, Any]:
    reply = call("POST", f"{runtime.gateway}/function/webhooks/webhooks",
                 json.dumps({"url": url, "secret": SECRET, "filters": filters}).encode(),
                 runtime.keyed(apikeys.WEBHOOKS))
    assert reply.status == 201, reply.body[:500]
    return reply.json()


def test_a_webhook_for_sf_receives_exactly_sfs_game_events_signed(runtime: LocalRuntime, espn: ScoreboardServer,
                                                                   receiver: Receiver) -> None:
    hook = register(runtime, receiver.url, {"teams": ["SF"]})
    for step in range(1, max(steps("nfl"), steps("nhl")) + 1):
        espn.step = {"nfl": min(step, steps("nfl")), "nhl": min(step, steps("nhl"))}
        reply = runtime.signed_call("POST", "sports-poll")
        assert reply.status == 200, reply.body[:500]
    assert wait_for(lambda: len(receiver.all()) >= len(SF_EVENTS), 60), [d.json() for d in receiver.all()]
    time.sleep(2)  # a duplicate or another team's event would have arrived by now
    got = receiver.all()
    assert all(d.verified for d in got), "every delivery verifies as docs/webhooks.md says"
    events = sorted((d.json()["event"] for d in got), key=lambda e: (e["time_fired"], SF_EVENTS.index(e["event_type"])))
    assert [e["event_type"] for e in events] == SF_EVENTS
    assert {e["game_id"] for e in events} == {SF_GAME}
    assert [d.headers["X-Webhook-Event"] for d in got] == [json.loads(d.body)["event"]["event_type"] for d in got]
    assert {json.loads(d.body)["webhook_id"] for d in got} == {hook["id"]}
    scores = [(e["home"]["score"], e["away"]["score"]) for e in events if e["event_type"] == "score_changed"]
    assert scores == [(7, 0), (7, 10), (14, 10), (17, 10)]
