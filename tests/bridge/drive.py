"""Driving a real HA with events of every kind, and tallying what of it reached the store and the webhooks.

Shared by the zero-loss tests (which assert the tally) and bench/bridge_failover.py (which prints it).
The truth is what HA fired, heard by a client of its own on HA's WebSocket (demo.recorder); the store
is read directly (SQLite), the webhook deliveries from a receiver that verifies each signature.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo.recorder import EventRecorder
from ingestor.event_id import event_id
from ingestor.store import open_event_store
from tests.support.homeassistant import HomeAssistant
from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime, stack_of
from tests.webhooks.receiver import Receiver, receiving

DRIVEN = ("state_changed", "call_service", "automation_triggered", "script_started", "logbook_entry")
STAGES = ("validate", "normalize", "weather-enrich", "write", "webhook-dispatch", "webhooks")
API_KEY = "zero-loss-admin-key-4321"
SECRET = "zero-loss-webhook-secret-8765"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start_pipeline(ha: HomeAssistant, workdir: Path, replicas: int) -> LocalRuntime:
    """The local runtime with the bridge's replicas and every stage from raw events to the store and webhooks."""
    (workdir / "secrets").mkdir()
    (workdir / "secrets" / "ha-token").write_text(ha.token or "")
    (workdir / "secrets" / "webhooks-api-key").write_text(API_KEY)
    env = {"HA_URL": ha.url, "BRIDGE_REPLICAS": str(replicas), "BRIDGE_RECONNECT_MAX_S": "4",
           "BRIDGE_PING_INTERVAL_S": "2", "BRIDGE_PING_TIMEOUT_S": "5", "BRIDGE_BACKFILL_RECHECK_S": "2",
           "BRIDGE_ACK_TIMEOUT_S": "2", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    return LocalRuntime(workdir, stack=stack_of(workdir / "stack.yml", STAGES), env=env).start(timeout=120)


def register_webhook(runtime: LocalRuntime, receiver: Receiver) -> None:
    hook = {"url": receiver.url, "secret": SECRET, "filters": {"event_types": ["*"]}}
    reply = call("POST", f"{runtime.gateway}/function/webhooks/webhooks", json.dumps(hook).encode(),
                 {"Content-Type": "application/json", "X-API-Key": API_KEY})
    if reply.status != 201:
        raise RuntimeError(f"webhook registration refused: {reply.status} {reply.body[:300]!r}")


@dataclass
class Pipeline:
    """A running start_pipeline() with its webhook's receiver."""

    ha: HomeAssistant
    runtime: LocalRuntime
    receiver: Receiver
    workdir: Path

    @property
    def database(self) -> Path:
        return self.workdir / "data" / "events.db"

    @property
    def replicas(self) -> list[str]:
        return [f"bridge-{i}" for i in range(1, len(self.runtime.ready["bridges"]) + 1)]

    def health(self, replica: str) -> dict[str, Any]:
        try:
            return call("GET", self.runtime.ready["bridges"][self.replicas.index(replica)], timeout=3).json()
        except OSError:
            return {}

    def all_subscribed(self) -> bool:
        return all(self.health(r).get("subscribed") for r in self.replicas)


@contextmanager
def running_pipeline(ha: HomeAssistant, workdir: Path, replicas: int) -> Iterator[Pipeline]:
    """start_pipeline() with a webhook for every event to a receiver that verifies each signature, every
    replica subscribed to HA."""
    runtime = start_pipeline(ha, workdir, replicas)
    try:
        with receiving(SECRET) as receiver:
            register_webhook(runtime, receiver)
            found = Pipeline(ha, runtime, receiver, workdir)
            if not wait_for(found.all_subscribed, 60):
                raise RuntimeError(f"the replicas did not subscribe: {[found.health(r) for r in found.replicas]}")
            yield found
    finally:
        runtime.stop()


class Driver:
    """Causes events of every DRIVEN type through HA's REST API on a thread: a probe value each step, the light
    toggled every 4th (turned on, the automation runs: automation_triggered, a call and a change in the run's
    context, whose parent is the light's), the script every 6th, a logbook entry every 9th. A call HA cannot
    take (it is restarting) is skipped: what counts is what HA fired, which the recorder hears."""

    def __init__(self, ha: HomeAssistant, pause_s: float = 0.03) -> None:
        self.ha = ha
        self.pause_s = pause_s
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
                if i % 4 == 0:
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
            time.sleep(self.pause_s)


@dataclass
class Window:
    """What HA fired between two moments (its clock: HA runs on this machine), as the recorder heard it."""

    start: dt.datetime
    end: dt.datetime
    fired: dict[str, set[str]] = field(default_factory=dict)  # event type -> ids

    def contains(self, when: str) -> bool:
        return self.start <= dt.datetime.fromisoformat(when) < self.end

    def record(self, recorder: EventRecorder) -> Window:
        for _, event in list(recorder.events):
            if event["event_type"] in DRIVEN and self.contains(event["time_fired"]):
                self.fired.setdefault(event["event_type"], set()).add(event_id(event))
        return self


def recorder(ha: HomeAssistant) -> EventRecorder:
    listening = EventRecorder(ha.ws_url, ha.token or "", DRIVEN)
    time.sleep(0.5)  # subscribed before the window opens
    return listening


def stored(database: Path, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    store = open_event_store(f"sqlite:///{database}")
    try:
        return [r for batch in store.export(start, end) for r in batch]
    finally:
        store.close()


def settled(database: Path, windows: list[Window], timeout: float = 180, quiet_s: float = 45) -> list[dict[str, Any]]:
    """The stored events of the windows' span once every fired event is there + 3 s, or once nothing new has
    been stored for `quiet_s` (what is missing is lost), or after `timeout`."""
    wanted = set().union(*(ids for w in windows for ids in w.fired.values()))
    start, end = windows[0].start, windows[-1].end
    deadline = time.monotonic() + timeout
    count, changed = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - changed < quiet_s:
        ids = {r["event_id"] for r in stored(database, start, end)}
        if wanted <= ids:
            break
        if len(ids) != count:
            count, changed = len(ids), time.monotonic()
        time.sleep(1)
    time.sleep(3)  # a duplicate, or a late backfilled copy, would be stored by now
    return stored(database, start, end)


def deliveries(receiver: Receiver) -> Counter[str]:
    """Event id -> how many deliveries the webhook received of it."""
    return Counter(json.loads(d.body)["event"]["event_id"] for d in receiver.delivered())


@dataclass
class Tally:
    """Per driven type: fired, stored, lost, stored but never fired, and how the webhook received them."""

    fired: Counter[str] = field(default_factory=Counter)
    stored: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    extra: Counter[str] = field(default_factory=Counter)
    twice_stored: int = 0  # one event stored under two ids (a live and a rebuilt copy that do not collide)
    undelivered: int = 0
    twice_delivered: int = 0
    unverified: int = 0

    @property
    def perfect(self) -> bool:
        return not (sum(self.lost.values()) or sum(self.extra.values()) or self.twice_stored or self.undelivered
                    or self.twice_delivered or self.unverified)

    def rows(self) -> list[dict[str, Any]]:
        return [{"event_type": kind, "fired": self.fired[kind], "stored": self.stored[kind], "lost": self.lost[kind],
                 "extra": self.extra[kind]} for kind in DRIVEN]


def tally(windows: list[Window], rows: list[dict[str, Any]], receiver: Receiver | None,
          delivery_timeout: float = 60) -> Tally:
    found = Tally()
    in_windows = [r for r in rows if any(w.contains(r["time_fired"]) for w in windows)]
    for kind in DRIVEN:
        fired = set().union(*(w.fired.get(kind, set()) for w in windows))
        kept = {r["event_id"] for r in in_windows if r["event_type"] == kind}
        found.fired[kind], found.stored[kind] = len(fired), len(kept)
        found.lost[kind], found.extra[kind] = len(fired - kept), len(kept - fired)
    same = Counter((r["event_type"], r["entity_id"], r["time_fired"], r["state"]) for r in rows)
    found.twice_stored = sum(n - 1 for n in same.values() if n > 1)
    if receiver is not None:
        wanted = {r["event_id"] for r in in_windows}
        deadline = time.monotonic() + delivery_timeout
        while not wanted <= set(delivered := deliveries(receiver)) and time.monotonic() < deadline:
            time.sleep(1)
        found.undelivered = len(wanted - set(delivered))
        found.twice_delivered = sum(n - 1 for n in delivered.values() if n > 1)
        found.unverified = sum(1 for d in receiver.all() if not d.verified)
    return found
