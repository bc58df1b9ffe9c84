"""A receiver down longer than the hold bound, through the real runtime: its webhooks pause and hold their
events, health says so, what was held longer than WEBHOOK_HOLD_MAX_AGE_S is dead-lettered with that reason
(on ha.events.dlq, with the event), and every other expected delivery arrives once the receiver is back and
the webhooks resume by themselves: nothing else is lost, nothing is both delivered and dead-lettered.

On the stack's compressed clock (stack.faults.yml, every duration / 4): the receiver is down for 30 s (two
minutes), the hold bound is 10 s (40 s). 900 events at 20/s. About 70 s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import subjects
from ingestor.webhooks.store import OUTCOMES
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime
from tests.webhooks.faults import FILTERS, KEY, Group, Receiver, Run, health

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.faults.yml"
HOLD_S = 10
REASON = f"held longer than WEBHOOK_HOLD_MAX_AGE_S ({HOLD_S} s) while its webhook failed"


class Letters:
    """The webhook dead letters on ha.events.dlq, read once per look."""

    def __init__(self, js: JetStreamClient) -> None:
        self.js = js

    def all(self) -> list[dict[str, Any]]:
        return [m for m in self.js.messages(subjects.DLQ) if m.get("kind") == "webhook"]

    def ids(self) -> set[str]:
        return {m["delivery_id"] for m in self.all()}


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Letters]]:
    workdir = tmp_path_factory.mktemp("hold-bound")
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "webhooks-api-key").write_text(KEY)
    group = Group("down-2min", Receiver.go_down, Receiver.come_up, 3, 33)
    try:
        with LocalRuntime(workdir, stack=STACK, env={"WEBHOOK_HOLD_MAX_AGE_S": str(HOLD_S)}) as runtime:
            js = JetStreamClient(runtime.nats_url)
            letters = Letters(js)
            try:
                played = Run(runtime, [group], rate=20, seconds=45, elsewhere=letters.ids)
                played.play(js, settle_s=60)
                yield played, letters
            finally:
                js.close()
    finally:
        group.receiver.close()


def test_what_was_held_past_the_bound_is_dead_lettered_with_the_reason_and_the_rest_delivered_once(
        scene: tuple[Run, Letters]) -> None:
    run, letters = scene
    (group,) = run.groups
    dead = letters.all()
    assert dead, "a receiver down longer than the hold bound has held deliveries dead-lettered"
    assert {e["reason"] for m in dead for e in m["entries"]} == {REASON}
    dead_ids = letters.ids()
    for name in FILTERS:
        expected, arrived = run.expected(group, name), group.arrived(name)
        print(f"\n{name}: {len(expected)} expected, {len(arrived)} delivered, {len(expected & dead_ids)} dead-lettered")
        assert arrived | (expected & dead_ids) == expected and not arrived & dead_ids
        assert arrived - expected == set()
    payloads = {m["delivery_id"]: m["entries"][0]["payload"] for m in dead}
    published = {e["event_id"]: e for _, e in run.published}
    assert all(published[p["event_id"]] == p for p in payloads.values()), "each dead letter carries its event"


def test_health_says_degraded_while_paused_naming_the_webhook_and_ok_once_it_resumed(
        scene: tuple[Run, Letters]) -> None:
    run, _ = scene
    (group,) = run.groups
    paused = [c for c in run.health_seen if c["status"] == "degraded"
              and any("paused since" in r and f"{group.name}-all" in r for r in c["reasons"])]
    assert paused, [c["reasons"] for c in run.health_seen]
    assert any(w["held"] > 0 for c in paused for w in c["details"]["webhooks"])
    assert wait_for(lambda: health(run.runtime)["status"] == "ok", 10), health(run.runtime)


def test_every_delivery_ends_delivered_or_dead_lettered_and_the_metrics_equal_the_log(
        scene: tuple[Run, Letters]) -> None:
    run, _ = scene
    (group,) = run.groups
    in_log: Counter[str] = Counter()
    for webhook_id in group.hooks.values():
        entries = run.log(webhook_id)
        newest = Counter({e["delivery_id"]: e["outcome"] for e in entries}.values())
        assert set(newest) == {"delivered", "dead_lettered"}, newest
        in_log.update(e["outcome"] for e in entries)
    assert in_log["held"] > 0
    assert {o: run.metric(o) for o in OUTCOMES} == {o: float(in_log[o]) for o in OUTCOMES}
