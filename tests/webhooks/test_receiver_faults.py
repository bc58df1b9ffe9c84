"""Receiver faults through the real runtime (gateway, topic connector, NATS, webhook-dispatch, health):
every expected delivery arrives exactly once after dropping duplicates by X-Webhook-Id, whether within the
retry schedule or after the webhook paused, held its events and resumed by itself; every delivery ends
`delivered` in the log, and the delivery metrics equal the log.

Four receivers fail at once, each with three webhooks of different filters, while 600 events are published at
20/s: down for a minute, answering 500 for 30 s, answering after 20 s for a minute, hanging for a minute, on
the stack's compressed clock (every duration / 4, stack.faults.yml); a fifth receiver stays healthy beside
them. Each receiver's longest delay (publish to first arrival) is printed and recorded (junit property
`max_delay_s`), not asserted. About 45 s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.webhooks.store import OUTCOMES
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime
from tests.webhooks.faults import FILTERS, KEY, Group, Receiver, Run, admin, health

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.faults.yml"
SCALE = 4  # the stack's clock: every duration of the schedule divided by this


def status(code: int) -> Callable[[Receiver], None]:
    def answer(rx: Receiver) -> None:
        rx.default = code
    return answer


def delay(seconds: float) -> Callable[[Receiver], None]:
    def wait(rx: Receiver) -> None:
        rx.delay_s = seconds
    return wait


def groups() -> list[Group]:
    start = 5
    return [Group("down-60s", Receiver.go_down, Receiver.come_up, start, start + 60 / SCALE),
            Group("http500-30s", status(500), status(200), start, start + 30 / SCALE),
            Group("slow-20s-for-60s", delay(20 / SCALE), delay(0), start, start + 60 / SCALE),
            Group("hanging-60s", Receiver.hang, Receiver.release, start, start + 60 / SCALE),
            Group("healthy", status(200), status(200), start, start)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    workdir = tmp_path_factory.mktemp("receiver-faults")
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "webhooks-api-key").write_text(KEY)
    faulty = groups()
    try:
        with LocalRuntime(workdir, stack=STACK) as runtime:
            js = JetStreamClient(runtime.nats_url)
            try:
                played = Run(runtime, faulty, rate=20, seconds=30)
                played.play(js, settle_s=120)
                yield played
            finally:
                js.close()
    finally:
        for group in faulty:
            group.receiver.close()


@pytest.mark.parametrize("fault", [g.name for g in groups()])
def test_every_expected_delivery_arrives_exactly_once_after_the_receiver_fault(
        run: Run, fault: str, record_property: Callable[[str, Any], None]) -> None:
    group = next(g for g in run.groups if g.name == fault)
    sent = Counter(r.delivery_id for r in group.receiver.all() if r.verified)
    record_property("max_delay_s", round(run.delays(group), 1))
    print(f"\n{fault}: " + ", ".join(f"{name} {len(group.arrived(name))}/{len(run.expected(group, name))}"
                                     for name in FILTERS)
          + f"; {sum(n - 1 for n in sent.values())} duplicates dropped; longest delay {run.delays(group):.1f} s")
    for name in FILTERS:
        expected = run.expected(group, name)
        assert expected and group.arrived(name) == expected, (name, len(expected - group.arrived(name)))
    assert group.receiver.cut_off == 0


def test_every_delivery_ends_delivered_in_its_log_and_the_metrics_equal_the_log(run: Run) -> None:
    in_log: Counter[str] = Counter()
    for group in run.groups:
        for name, webhook_id in group.hooks.items():
            entries = run.log(webhook_id)
            newest = {e["delivery_id"]: e["outcome"] for e in entries}
            assert len(newest) == len(run.expected(group, name))
            assert set(newest.values()) == {"delivered"}, (group.name, name, Counter(newest.values()))
            in_log.update(e["outcome"] for e in entries)
            shown = admin(run.runtime, "GET", f"/webhooks/{webhook_id}")
            assert (shown["state"], shown["retry_backlog"], shown["held"]) == ("active", 0, 0)
    assert {o: run.metric(o) for o in OUTCOMES} == {o: float(in_log[o]) for o in OUTCOMES}


def test_health_shows_every_webhook_active_with_nothing_waiting_once_all_is_delivered(run: Run) -> None:
    found = wait_for(lambda: (c := health(run.runtime))["status"] == "ok" and c, 10)
    assert found, health(run.runtime)
    assert {(w["state"], w["retry_backlog"], w["held"]) for w in found["details"]["webhooks"]} == {("active", 0, 0)}
    assert len(found["details"]["webhooks"]) == 3 * len(run.groups)
