"""An alert's start and end reach ha.alerts even when NATS is down when they happen: the alert is kept first, and
each later evaluation publishes what is still unpublished, once it can, with ids that make a second publication
of the same start or end a duplicate JetStream drops (real nats-server of the local runtime)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from ingestor import subjects
from ingestor.alerts.evaluate import Evaluator
from ingestor.alerts.schema import alerts as alerts_table
from ingestor.alerts.settings import Settings
from ingestor.alerts.store import AlertStore
from ingestor.bus import Bus
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration


def status(store: str) -> dict[str, Any]:
    return {"components": [{"name": "event-store", "status": store, "reasons": ["refused"] if store != "ok" else []},
                           {"name": "dlq", "status": "ok", "reasons": [], "details": {"in_window": 0}}]}


def test_a_start_and_an_end_made_while_nats_is_down_are_published_once_when_it_is_back(
        runtime: LocalRuntime, js: JetStreamClient, tmp_path: Path) -> None:
    now: dict[str, str] = {"store": "unhealthy"}
    bus = Bus(runtime.nats_url, timeout=1)
    bus.call(lambda jetstream: jetstream.stream_info(subjects.STREAM))  # connected before NATS goes down
    alerts = AlertStore(f"sqlite:///{tmp_path}/metadata.db")
    evaluator = Evaluator(alerts, Settings(), lambda: None, lambda: status(now["store"]), bus)  # type: ignore
    with runtime.nats_held_down():
        down = evaluator.evaluate()
        assert (down.opened, down.published, down.unpublished) == (["store_down:event-store"], 0, 1)
        now["store"] = "ok"
        up = evaluator.evaluate()  # the store is back (no store rule can run: its reads raise, and are skipped)
        assert (up.closed, up.published, up.unpublished) == (["store_down:event-store"], 0, 1)
    assert [a.ended_at is not None for a in alerts.history(10)] == [True], "kept while NATS was down"
    later = wait_for(lambda: (o := evaluator.evaluate()).published and o, 60, interval=1)
    assert later and (later.published, later.unpublished) == (2, 0)
    again = evaluator.evaluate()
    assert again.published == 0, "published once: recorded as such"
    (alert,) = alerts.history(10)
    with alerts.transaction(write=True) as conn:  # as if the process died before recording it: published again
        conn.execute(update(alerts_table).values(start_sent=False, end_sent=False))
    assert evaluator.evaluate().published == 2
    time.sleep(0.5)
    events = js.events(subjects.ALERTS)
    assert [(e["event_type"], e["alert"]["id"]) for e in events] == [("alert_started", alert.id),
                                                                     ("alert_ended", alert.id)]
    assert events[1]["alert"]["ended_at"] == alert.ended_at
    bus.close()

