"""Zero loss with two bridge replicas, through the whole pipeline, against the real HA 2024.3.3.

The local runtime runs both replicas (as `make run` does) and validate → normalize → weather-enrich → write
(SQLite) and webhook-dispatch, with one webhook for every HA event and a receiver that verifies each
signature. A driver causes events of every kind through HA's REST API (state changes, service calls, an
automation whose runs have a parent context, a script, logbook entries); a client of its own on HA's
WebSocket records what HA fired. Under each fault, per event type: what HA fired = what is stored, by
event id, none twice; and the webhook received each exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from demo.recorder import EventRecorder
from ingestor.event_id import event_id
from ingestor.store import open_event_store
from tests.support.homeassistant import HomeAssistant
from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime, stack_of
from tests.webhooks.receiver import Receiver, receiving

pytestmark = pytest.mark.integration

DRIVEN = ("state_changed", "call_service", "automation_triggered", "script_started", "logbook_entry")
LIFECYCLE = ("homeassistant_start", "homeassistant_stop")
STAGES = ("validate", "normalize", "weather-enrich", "write", "webhook-dispatch", "webhooks")
API_KEY = "zero-loss-admin-key-4321"
SECRET = "zero-loss-webhook-secret-8765"
REPLICAS = ("bridge-1", "bridge-2")


@dataclass
class Pipeline:
    ha: HomeAssistant
    runtime: LocalRuntime
    receiver: Receiver
    workdir: Path

    def store(self) -> Any:
        return open_event_store(f"sqlite:///{self.workdir}/data/events.db")

    def health(self, replica: str) -> dict[str, Any]:
        url = self.runtime.ready["bridges"][REPLICAS.index(replica)]
        try:
            return call("GET", url, timeout=3).json()
        except OSError:
            return {}

    def all_subscribed(self) -> bool:
        return all(self.health(r).get("subscribed") for r in REPLICAS)


@pytest.fixture(scope="module")
def pipeline(ha: HomeAssistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    workdir = tmp_path_factory.mktemp("zero-loss")
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "ha-token").write_text(ha.token or "")
    (workdir / "secrets" / "webhooks-api-key").write_text(API_KEY)
    env = {"HA_URL": ha.url, "BRIDGE_REPLICAS": "2", "BRIDGE_RECONNECT_MAX_S": "4", "BRIDGE_PING_INTERVAL_S": "2",
           "BRIDGE_PING_TIMEOUT_S": "5", "BRIDGE_BACKFILL_RECHECK_S": "2", "BRIDGE_ACK_TIMEOUT_S": "2",
           "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    runtime = LocalRuntime(workdir, stack=stack_of(workdir / "stack.yml", STAGES), env=env).start(timeout=120)
    try:
        with receiving(SECRET) as receiver:
            hook = {"url": receiver.url, "secret": SECRET, "filters": {"event_types": ["*"]}}
            reply = call("POST", f"{runtime.gateway}/function/webhooks/webhooks", json.dumps(hook).encode(),
                         {"Content-Type": "application/json", "X-API-Key": API_KEY})
            assert reply.status == 201, reply.body
            found = Pipeline(ha, runtime, receiver, workdir)
            assert wait_for(found.all_subscribed, 60), [found.health(r) for r in REPLICAS]
            yield found
    finally:
        runtime.stop()


class Driver:
    """Causes events of every DRIVEN type through HA's REST API on a thread; a call HA cannot take (it is
    restarting) is skipped: what counts is what HA fired, which the recorder hears."""

    def __init__(self, ha: HomeAssistant) -> None:
        self.ha = ha
        self.stop = threading.Event()
        self.steps = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Driver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)

    def _run(self) -> None:
        light_on = self.ha.state("input_boolean.living_room_light")["state"] == "on"
        while not self.stop.is_set():
            i = self.steps
            try:
                self.ha.set_probe(self.ha.next_probe_values(1)[0])
                if i % 4 == 0:  # on: the automation runs (automation_triggered, a call and a change in its context)
                    light_on = not light_on
                    self.ha.call_service("input_boolean", "turn_on" if light_on else "turn_off",
                                         entity_id="input_boolean.living_room_light")
                if i % 6 == 0:
                    self.ha.call_service("script", "bump_script_runs")
                if i % 9 == 0:
                    self.ha.call_service("logbook", "log", name="Zero loss", message=f"step {i}")
            except (OSError, RuntimeError):
                time.sleep(0.2)  # HA is restarting
            self.steps += 1
            time.sleep(0.03)


@dataclass
class Window:
    """What HA fired between two moments (its clock: HA runs on this machine), as the recorder heard it."""

    start: dt.datetime
    end: dt.datetime
    fired: dict[str, set[str]] = field(default_factory=dict)  # event type -> ids

    def contains(self, when: str) -> bool:
        return self.start <= dt.datetime.fromisoformat(when) < self.end


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def recorded(recorder: EventRecorder, window: Window) -> Window:
    for _, event in list(recorder.events):
        if event["event_type"] in DRIVEN and window.contains(event["time_fired"]):
            window.fired.setdefault(event["event_type"], set()).add(event_id(event))
    return window


def stored(pipeline: Pipeline, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    store = pipeline.store()
    try:
        return [r for batch in store.export(start, end) for r in batch]
    finally:
        store.close()


def settled_store(pipeline: Pipeline, windows: list[Window], timeout: float = 180) -> list[dict[str, Any]]:
    """The stored events of the windows' span once every fired event is there (or the timeout passed) + 3 s."""
    wanted = set().union(*(ids for w in windows for ids in w.fired.values()))
    start, end = windows[0].start, windows[-1].end
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= {r["event_id"] for r in stored(pipeline, start, end)}:
        time.sleep(1)
    time.sleep(3)  # a duplicate, or a late backfilled copy, would be stored by now
    return stored(pipeline, start, end)


def assert_exactly_once(pipeline: Pipeline, windows: list[Window], rows: list[dict[str, Any]]) -> Counter[str]:
    """Per driven type: fired = stored (ids), no event stored twice under two ids, each delivered once."""
    in_windows = [r for r in rows if any(w.contains(r["time_fired"]) for w in windows)]
    for kind in DRIVEN:
        fired = set().union(*(w.fired.get(kind, set()) for w in windows))
        kept = [r["event_id"] for r in in_windows if r["event_type"] == kind]
        assert fired, f"the drive fired no {kind}"
        missing, extra = fired - set(kept), set(kept) - fired
        assert not missing and not extra, f"{kind}: {len(missing)} lost, {len(extra)} not fired (of {len(fired)})"
    twice = Counter((r["event_type"], r["entity_id"], r["time_fired"], r["state"]) for r in rows)
    assert not [k for k, n in twice.items() if n > 1], "an event stored twice under two ids"
    deliveries = Counter(json.loads(d.body)["event"]["event_id"] for d in pipeline.receiver.delivered())
    assert all(d.verified for d in pipeline.receiver.all())
    wanted = {r["event_id"] for r in in_windows}
    late = time.monotonic() + 60
    while not wanted <= set(deliveries) and time.monotonic() < late:
        time.sleep(1)
        deliveries = Counter(json.loads(d.body)["event"]["event_id"] for d in pipeline.receiver.delivered())
    assert wanted <= set(deliveries), f"{len(wanted - set(deliveries))} stored events never delivered"
    assert not [e for e, n in deliveries.items() if n > 1], "a webhook delivery made twice"
    return Counter(r["event_type"] for r in in_windows)


def kill(pipeline: Pipeline, replica: str) -> float:
    """SIGKILL a replica mid-drive; returns the seconds until the runtime had it subscribed to HA again."""
    pid = pipeline.runtime.bridge_pid(replica)
    assert pid, f"{replica} is not running"
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: pipeline.runtime.bridge_pid(replica) not in (None, pid)
                    and pipeline.health(replica).get("subscribed"), 60), f"{replica} did not come back"
    return time.monotonic() - killed


def test_killing_each_replica_in_turn_mid_drive_loses_nothing_and_stores_and_delivers_each_event_once(
        pipeline: Pipeline) -> None:
    recorder = EventRecorder(pipeline.ha.ws_url, pipeline.ha.token or "", DRIVEN)
    time.sleep(0.5)
    window = Window(now(), now())
    with Driver(pipeline.ha) as driver:
        time.sleep(4)
        kill(pipeline, "bridge-1")
        time.sleep(3)  # bridge-1 back and catching up: its gap is what bridge-2 forwarded live
        kill(pipeline, "bridge-2")
        time.sleep(3)
    recorder.quiet_for(2)
    window.end = now()
    recorder.close()
    counts = assert_exactly_once(pipeline, [recorded(recorder, window)], settled_store(pipeline, [window]))
    assert driver.steps > 50, counts
    for replica in REPLICAS:  # the gap each one had was found on the stream, forwarded live by the other
        backfill = pipeline.health(replica)["backfill"]
        assert backfill["pending_gaps"] == 0 and backfill["gaps_filled"] >= 1, backfill
        assert backfill["already_forwarded"] > 0, backfill


def test_an_ha_restart_mid_drive_is_recorded_from_ha_s_logbook_and_loses_nothing(pipeline: Pipeline) -> None:
    before = EventRecorder(pipeline.ha.ws_url, pipeline.ha.token or "", DRIVEN)
    time.sleep(0.5)
    first = Window(now(), now())
    with Driver(pipeline.ha):
        time.sleep(4)
        first.end = now()
        pipeline.ha.restart()
        after = EventRecorder(pipeline.ha.ws_url, pipeline.ha.token or "", DRIVEN)
        time.sleep(0.5)
        second = Window(now(), now())
        assert wait_for(pipeline.all_subscribed, 30), [pipeline.health(r) for r in REPLICAS]
        time.sleep(4)
    after.quiet_for(2)
    second.end = now()
    before.close()
    after.close()
    windows = [recorded(before, first), recorded(after, second)]
    rows = settled_store(pipeline, windows)
    assert_exactly_once(pipeline, windows, rows)
    restart = [r for r in rows if first.end <= dt.datetime.fromisoformat(r["time_fired"]) < second.start]
    lifecycle = Counter(r["event_type"] for r in restart if r["event_type"] in LIFECYCLE)
    assert lifecycle == {"homeassistant_stop": 1, "homeassistant_start": 1}, lifecycle
    stop = next(r for r in restart if r["event_type"] == "homeassistant_stop")
    assert stop["backfill"] == {"source": "logbook", "unknown": ["id", "parent_id"]}


def test_nats_down_for_60_s_mid_drive_loses_nothing_and_stores_and_delivers_each_event_once(
        pipeline: Pipeline) -> None:
    recorder = EventRecorder(pipeline.ha.ws_url, pipeline.ha.token or "", DRIVEN)
    time.sleep(0.5)
    window = Window(now(), now())
    with Driver(pipeline.ha):
        time.sleep(3)
        with pipeline.runtime.nats_held_down():
            assert wait_for(lambda: all(pipeline.health(r).get("spool_depth", 0) > 0 for r in REPLICAS), 20)
            time.sleep(57)
        time.sleep(5)
    recorder.quiet_for(2)
    window.end = now()
    recorder.close()
    assert_exactly_once(pipeline, [recorded(recorder, window)], settled_store(pipeline, [window], timeout=240))
    assert all(pipeline.health(r)["spool_depth"] == 0 for r in REPLICAS)
