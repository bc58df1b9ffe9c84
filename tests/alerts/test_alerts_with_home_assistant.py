"""Alerts end to end with a real Home Assistant: its events go through the pipeline into PostgreSQL; the test makes
the cron's signed call to health, which opens and closes alerts, and webhook-dispatch delivers each start and end
to a receiver on 127.0.0.1 that checks the signature. A sensor goes silent, a binary sensor flaps to
`unavailable`, PostgreSQL is stopped; each alert opens at the first evaluation that sees the problem and closes
at the first one that no longer does, and each start and end arrives once. The same HA runs the automation
docs/alerts.md documents, taken from the doc itself, and turns a delivered start and end into a persistent
notification and its dismissal."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import websocket

from ingestor import apikeys, normalization
from ingestor import store as event_stores
from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore
from tests.health.support import get, health_url
from tests.support.ha_events import state_changed
from tests.support.homeassistant import CONFIG_TEMPLATE, HomeAssistant, ensure_venv
from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime, stack_of
from tests.support.servers import PostgresServer
from tests.webhooks.receiver import receiving

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.alerts.yml"
SECRET = "alerts-end-to-end-secret-0021"
PROBE, FLAPPY, PRIMER = "sensor.alert_probe", "binary_sensor.alert_flappy", "binary_sensor.alert_primer"
DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def documented_automation() -> str:
    """The HA configuration docs/alerts.md gives: its YAML block with a webhook trigger, as the doc has it."""
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S) if "platform: webhook" in b]
    assert len(blocks) == 1, "docs/alerts.md documents one HA automation"
    return blocks[0]


def documented_registration(ha: HomeAssistant) -> bytes:
    """The body of the doc's webhook registration (its `curl … -d '…'` to /webhooks), aimed at this HA."""
    (body,) = re.findall(r"function/webhooks/webhooks .*?-d '(\{.*?\})'", DOC.read_text(), re.S)
    return body.replace("http://homeassistant.local:8123", ha.url).encode()


def with_documented_automation(config_dir: Path, port: int) -> None:
    """The tests' HA configuration with the doc's block pasted at its end, as a user would."""
    (config_dir / "configuration.yaml").write_text(
        CONFIG_TEMPLATE.read_text().replace("__PORT__", str(port)) + "\n" + documented_automation())


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    ensure_venv()
    instance = HomeAssistant(tmp_path_factory.mktemp("homeassistant") / "config",
                             write_config=with_documented_automation)
    try:
        yield instance.start()
    finally:
        instance.stop()


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
        ).encode(), runtime.keyed(apikeys.WEBHOOKS))
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


@contextmanager
def notification_updates(ha: HomeAssistant) -> Iterator[list[dict[str, Any]]]:
    """HA's persistent-notification updates ({type: added|removed|updated, notifications}) as they happen, over
    `persistent_notification/subscribe`; the first (`current`) is HA's notifications at the start."""
    updates: list[dict[str, Any]] = []
    conn = websocket.create_connection(ha.ws_url, timeout=30)
    conn.recv()
    conn.send(json.dumps({"type": "auth", "access_token": ha.token}))
    assert json.loads(conn.recv())["type"] == "auth_ok"
    conn.send(json.dumps({"id": 1, "type": "persistent_notification/subscribe"}))

    def collect() -> None:
        try:
            while message := conn.recv():
                message = json.loads(message)
                if message.get("type") == "event":
                    updates.append(message["event"])
        except (websocket.WebSocketException, OSError):
            pass  # closed at the end

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: updates, 30) and updates[0]["type"] == "current"
        yield updates
    finally:
        conn.close()
        reader.join(10)


def test_the_documented_home_assistant_automation_turns_an_alert_start_and_end_into_a_notification(
        ha: HomeAssistant, tmp_path: Path) -> None:
    """The doc's automation in a real HA, the doc's webhook registration, the real webhook-dispatch: a battery
    reading below the threshold opens `low_battery`, and its start adds one notification naming the alert's rule,
    subject and severity; a reading above it closes the alert, and its end removes that notification."""
    battery = "sensor.ha_automation_remote_battery"
    store_url = f"sqlite:///{tmp_path}/events.db"
    events = event_stores.open_event_store(store_url)
    # no capture pipeline: the test writes the store
    stack = stack_of(tmp_path / "stack.yml", ("webhooks", "webhook-dispatch", "health"), STACK)
    with LocalRuntime(tmp_path, stack=stack, env={"TEST_EVENT_STORE_URL": store_url}) as runtime, \
            notification_updates(ha) as updates:
        reply = call("POST", f"{runtime.gateway}/function/webhooks/webhooks", documented_registration(ha),
                     runtime.keyed(apikeys.WEBHOOKS))
        assert reply.status == 201, reply.body[:500]
        assert reply.json()["url"] == f"{ha.url}/api/webhook/ha-ingestor-alerts"

        events.write([reading(battery, "9")])
        outcome, _, _ = tick(runtime)
        assert outcome["opened"] == [f"low_battery:{battery}"], outcome
        alert = one(alerts(health_url(runtime)), "low_battery", battery)
        assert wait_for(lambda: len(updates) >= 2, 30), updates
        added = updates[1]
        assert added["type"] == "added" and list(added["notifications"]) == [f"low_battery-{battery}"], updates
        notification = added["notifications"][f"low_battery-{battery}"]
        assert notification["title"] == "Warning: low battery"
        since = dt.datetime.fromisoformat(alert["started_at"]).strftime("%H:%M")  # the test HA's zone is UTC
        assert notification["message"] == f"{alert['summary']} (since {since})" and battery in alert["summary"]
        assert ha.ws(("persistent_notification/get", {}))[0] == [notification]

        events.write([reading(battery, "80")])
        outcome, _, _ = tick(runtime)
        assert outcome["closed"] == [f"low_battery:{battery}"], outcome
        assert wait_for(lambda: len(updates) >= 3, 30), updates
        assert updates[2]["type"] == "removed" and list(updates[2]["notifications"]) == [f"low_battery-{battery}"]
        tick(runtime)
        time.sleep(2)
        assert len(updates) == 3, f"each start and end reaches HA once: {updates}"
        assert ha.ws(("persistent_notification/get", {}))[0] == []
    events.close()


def reading(entity_id: str, percent: str) -> dict[str, Any]:
    """A battery reading as the pipeline stores it, written straight into the store: the automation is under
    test here, not the capture."""
    return normalization.normalize_event(state_changed(entity_id, "50", percent, dt.datetime.now(dt.UTC), unit="%"))

