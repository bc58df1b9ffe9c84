"""An alert's start and end reach ha.alerts even when NATS is down when they happen: the alert is kept first, and
each later evaluation publishes what is still unpublished, once it can, with ids that make a second publication
of the same start or end a duplicate JetStream drops (real nats-server of the local runtime); and an end is made
only when the problem ends: a silent sensor's alert not when its events leave the baseline window, but when it
sends again or is removed from HA's registry."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from ingestor import normalization, subjects
from ingestor.alerts.evaluate import Evaluator
from ingestor.alerts.schema import alerts as alerts_table
from ingestor.alerts.settings import Settings
from ingestor.alerts.store import AlertStore
from ingestor.bus import Bus
from ingestor.metadata.schema import entities
from ingestor.store import open_event_store
from tests.support.ha_events import state_changed
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



def test_a_silence_alert_ends_when_the_sensor_sends_again_not_when_its_events_leave_the_baseline(
        runtime: LocalRuntime, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    store = open_event_store(f"sqlite:///{tmp_path}/events.db")
    store.write([normalization.normalize_event(state_changed("sensor.quiet", "0", str(i),
                                                             now - dt.timedelta(minutes=55 + 5 * i), unit="°C"))
                 for i in range(12)])  # every 5 minutes, silent for the last 55
    bus = Bus(runtime.nats_url, timeout=1)
    evaluator = Evaluator(AlertStore(f"sqlite:///{tmp_path}/metadata.db"),
                          Settings(silent_baseline_s=7200, silent_factor=5, silent_min_s=900, silent_min_events=12),
                          lambda: store, lambda: status("ok"), bus)
    assert evaluator.evaluate(now).opened == ["sensor_silent:sensor.quiet"]
    later = now + dt.timedelta(hours=3)  # its events have all left the 2 h baseline window
    assert evaluator.evaluate(later).closed == [], "still silent"
    store.write([normalization.normalize_event(state_changed("sensor.quiet", "0", "1",
                                                             later - dt.timedelta(minutes=1), unit="°C"))])
    assert evaluator.evaluate(later).closed == ["sensor_silent:sensor.quiet"]
    store.close()
    bus.close()


def test_a_sensor_removed_from_the_registry_is_not_silent(runtime: LocalRuntime, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    store = open_event_store(f"sqlite:///{tmp_path}/events.db")
    store.write([normalization.normalize_event(state_changed(entity, "0", str(i),
                                                             now - dt.timedelta(minutes=55 + 5 * i), unit="°C"))
                 for i in range(12) for entity in ("sensor.quiet", "sensor.old")])
    alerts = AlertStore(f"sqlite:///{tmp_path}/metadata.db")
    bus = Bus(runtime.nats_url, timeout=1)
    evaluator = Evaluator(alerts, Settings(silent_baseline_s=7200, silent_factor=5, silent_min_s=900,
                                           silent_min_events=12), lambda: store, lambda: status("ok"), bus)
    assert evaluator.evaluate(now).opened == ["sensor_silent:sensor.old", "sensor_silent:sensor.quiet"]
    with alerts.transaction(write=True) as conn:
        conn.execute(insert(entities), [{"entity_id": "sensor.old", "domain": "sensor", "in_registry": False,
                                         "removed_at": "2026-11-30T10:00:00.000000Z"}])
    assert evaluator.evaluate(now).closed == ["sensor_silent:sensor.old"]
    assert evaluator.evaluate(now + dt.timedelta(minutes=1)).opened == [], "not opened again"
    store.close()
    bus.close()
