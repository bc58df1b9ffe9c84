"""Alerts end to end with a real Home Assistant: its events go through the pipeline into PostgreSQL; the test makes
the cron's signed call to health, which opens and closes alerts, and webhook-dispatch delivers each start and end
to a receiver on 127.0.0.1 that checks the signature. A sensor goes silent, a binary sensor flaps to
`unavailable`, PostgreSQL is stopped; each alert opens at the first evaluation that sees the problem and closes
at the first one that no longer does, and each start and end arrives once."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import store as event_stores
from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore
from tests.health.support import get, health_url
from tests.support.homeassistant import HomeAssistant, ensure_venv, running
from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime
from tests.support.servers import PostgresServer
from tests.webhooks.receiver import receiving

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.alerts.yml"
SECRET = "alerts-end-to-end-secret-0021"
PROBE, FLAPPY, PRIMER = "sensor.alert_probe", "binary_sensor.alert_flappy", "binary_sensor.alert_primer"


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    ensure_venv()
    with running(tmp_path_factory.mktemp("homeassistant") / "config") as instance:
        yield instance


@pytest.fixture
def stoppable_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()
    server.cleanup()


def set_state(ha: HomeAssistant, entity_id: str, state: str, **attributes: Any) -> None:
    ha.rest("POST", f"/api/states/{entity_id}", {"state": state, "attributes": attributes})


def stored(events: EventStore, entity_id: str, state: str | None = None) -> int:
    return events.count(EventFilter(entity_id=entity_id, state=state))


def tick(runtime: LocalRuntime) -> tuple[dict[str, Any], str, str]:
    """The cron's signed call; the evaluation's answer and the UTC times just before and after it."""
    before = _now()
    reply = runtime.signed_call("POST", "health")
    assert reply.status == 200, reply.body[:500]
    return reply.json(), before, _now()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alerts(url: str) -> list[dict[str, Any]]:
    return get(url, "/alerts/history?limit=1000").json()["alerts"]


def one(found: list[dict[str, Any]], rule: str, subject: str) -> dict[str, Any]:
    matching = [a for a in found if a["rule"] == rule and a["subject"] == subject]
    assert len(matching) == 1, found
    return matching[0]


def test_silence_flapping_and_a_stopped_store_open_and_close_alerts_each_delivered_once(
        ha: HomeAssistant, stoppable_postgres: PostgresServer, tmp_path: Path) -> None:
    postgres = stoppable_postgres  # its own server: the test stops it
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ha-token").write_text(ha.token or "")
    store_url = postgres.new_database()
    events = event_stores.open_event_store(store_url)
    env = {"HA_URL": ha.url, "BRIDGE_REPLICAS": "1", "TEST_EVENT_STORE_URL": store_url}
    with LocalRuntime(tmp_path, stack=STACK, env=env) as runtime, receiving(SECRET) as receiver:
        url = health_url(runtime)
        reply = call("POST", f"{runtime.gateway}/function/webhooks/webhooks", json.dumps(
            {"url": receiver.url, "secret": SECRET, "filters": {"alert_events": ["alert_started", "alert_ended"]}}
        ).encode(), {"Content-Type": "application/json"})
        assert reply.status == 201, reply.body[:500]
        assert runtime.signed_call("GET", "health/alerts").status == 200
        assert call("POST", f"{runtime.gateway}/function/health").status == 401, "only the cron may evaluate"

        # the bridge is subscribed once an event of HA's reaches the store
        assert wait_for(lambda: set_state(ha, PRIMER, str(time.time())) or stored(events, PRIMER), 60, interval=1)

        # a sensor reporting every half second: 12 events in the 120 s baseline, a usual interval of 10 s
        for value in range(12):
            set_state(ha, PROBE, str(20 + value), unit_of_measurement="°C")
            time.sleep(0.5)
        assert wait_for(lambda: stored(events, PROBE) >= 12, 60), stored(events, PROBE)
        outcome, _, _ = tick(runtime)
        assert outcome["opened"] == [] and outcome["skipped"] == {}, outcome

        # silent for longer than its usual interval (ALERT_SILENT_FACTOR 1): open
        time.sleep(11)
        outcome, before, after = tick(runtime)
        assert outcome["opened"] == [f"sensor_silent:{PROBE}"], outcome
        silent = one(alerts(url), "sensor_silent", PROBE)
        assert before <= silent["started_at"] <= after and silent["ended_at"] is None
        assert silent["severity"] == "warning" and silent["evidence"]["events_in_baseline"] == 12
        assert silent["evidence"]["usual_interval_s"] == 10.0 and silent["evidence"]["silent_s"] > 10
        assert [a["id"] for a in get(url, "/alerts").json()["alerts"]] == [silent["id"]]
        assert tick(runtime)[0]["opened"] == [], "still silent: the same alert, not a new one"

        # it reports again: closed
        set_state(ha, PROBE, "40", unit_of_measurement="°C")
        assert wait_for(lambda: stored(events, PROBE) >= 13, 30)
        outcome, before, after = tick(runtime)
        assert outcome["closed"] == [f"sensor_silent:{PROBE}"], outcome
        silent = one(alerts(url), "sensor_silent", PROBE)
        assert before <= silent["ended_at"] <= after

        # unavailable three times within 20 s: open; once those fall out of the window: closed
        for state in ("on", "unavailable", "on", "unavailable", "on", "unavailable", "on"):
            set_state(ha, FLAPPY, state)
            time.sleep(0.2)
        assert wait_for(lambda: stored(events, FLAPPY, "unavailable") >= 3, 30)
        outcome, before, after = tick(runtime)
        assert outcome["opened"] == [f"unavailable_spike:{FLAPPY}"], outcome
        flapping = one(alerts(url), "unavailable_spike", FLAPPY)
        assert before <= flapping["started_at"] <= after and flapping["evidence"]["count"] == 3
        time.sleep(21)
        outcome, before, after = tick(runtime)
        assert f"unavailable_spike:{FLAPPY}" in outcome["closed"], outcome
        flapping = one(alerts(url), "unavailable_spike", FLAPPY)
        assert before <= flapping["ended_at"] <= after
        # (the probe has been quiet meanwhile: silent again, a second alert of the same sensor)
        assert f"sensor_silent:{PROBE}" in outcome["opened"], outcome

        # the store stops: store_down opens and the rules that read it wait; it starts again: closed
        postgres.stop()
        outcome, before, after = tick(runtime)
        assert outcome["opened"] == ["store_down:event-store"], outcome
        assert set(outcome["skipped"]) == {"sensor_silent", "unavailable_spike", "low_battery", "energy_outlier"}
        assert outcome["closed"] == [], "a rule that could not read the store closes nothing"
        down = one(alerts(url), "store_down", "event-store")
        assert before <= down["started_at"] <= after and down["severity"] == "critical"
        postgres.start()
        outcome, before, after = tick(runtime)
        assert outcome["closed"] == ["store_down:event-store"], outcome
        down = one(alerts(url), "store_down", "event-store")
        assert before <= down["ended_at"] <= after

        # every start and end delivered once, signed; none again at later evaluations
        ended = [a for a in alerts(url) if a["ended_at"]]
        expected = {(a["id"], kind) for a in alerts(url) for kind in ("alert_started", "alert_ended")
                    if kind == "alert_started" or a["ended_at"]}
        assert len(ended) == 3 and len(expected) == 7
        assert wait_for(lambda: len(receiver.all()) >= len(expected), 30), len(receiver.all())
        tick(runtime)
        time.sleep(2)
        got = receiver.all()
        assert all(d.verified for d in got)
        assert sorted((d.json()["event"]["alert"]["id"], d.json()["event"]["event_type"]) for d in got) \
            == sorted(expected)
        assert all(d.headers["X-Webhook-Event"] == d.json()["event"]["event_type"] for d in got)
    events.close()
