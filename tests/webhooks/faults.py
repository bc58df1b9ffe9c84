"""Receiver faults through the real runtime: webhooks registered at faulty receivers, events published at a
steady rate, and what arrived, counted exactly (after dropping duplicates by X-Webhook-Id).

Each group is one receiver with three webhooks of different filters (every event, lights, temperature
sensors), at paths /all, /lights and /temperatures; its fault starts and ends at given seconds of the run.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ingestor import subjects
from ingestor.webhooks.dispatch import delivery_id
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.runtime import LocalRuntime
from tests.webhooks.events import ha_record
from tests.webhooks.receiver import Receiver

KEY = "faults-admin-key-00000001"
SECRET = "faults-webhook-secret-0001"
FILTERS = {"all": {"event_types": ["*"]}, "lights": {"domains": ["light"]},
           "temperatures": {"entity_ids": ["sensor.*_temperature"]}}
ENTITIES = ("light.kitchen", "light.hall", "sensor.kitchen_temperature", "switch.pump", "sensor.power",
            "sensor.hall_temperature", "light.porch")


def admin(runtime: LocalRuntime, method: str, path: str, body: Any = None) -> Any:
    reply = call(method, f"{runtime.gateway}/function/webhooks{path}",
                 None if body is None else json.dumps(body).encode(),
                 {"Content-Type": "application/json", "X-API-Key": KEY})
    assert 200 <= reply.status < 300, (reply.status, reply.body[:300])
    return reply.json() if reply.body else None


def health(runtime: LocalRuntime) -> dict[str, Any]:
    body = call("GET", f"{runtime.gateway}/function/health/").json()
    return next(c for c in body["components"] if c["name"] == "webhook-deliveries")


@dataclass
class Group:
    """One faulty receiver and its three webhooks."""

    name: str
    start: Callable[[Receiver], None]
    end: Callable[[Receiver], None]
    from_s: float
    until_s: float
    receiver: Receiver = field(default_factory=lambda: Receiver(SECRET))
    hooks: dict[str, str] = field(default_factory=dict)  # filter name -> webhook id

    def register(self, runtime: LocalRuntime) -> None:
        for name, filters in FILTERS.items():
            made = admin(runtime, "POST", "/webhooks", {"url": f"http://127.0.0.1:{self.receiver.port}/{name}",
                                                        "name": f"{self.name}-{name}", "secret": SECRET,
                                                        "filters": filters})
            self.hooks[name] = made["id"]

    def arrived(self, name: str) -> set[str]:
        """Delivery ids that reached the /`name` webhook, correctly signed, duplicates dropped."""
        return {r.delivery_id for r in self.receiver.all() if r.path == f"/{name}" and r.verified}


def matches(name: str, event: dict[str, Any]) -> bool:
    return (name == "all" or (name == "lights" and event["domain"] == "light")
            or (name == "temperatures" and event["entity_id"].endswith("_temperature")))


@dataclass
class Run:
    """Events published at `rate` per second for `seconds`, while each group's fault comes and goes."""

    runtime: LocalRuntime
    groups: list[Group]
    rate: int
    seconds: float
    batch: int = 10
    published: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (monotonic time, event)
    elsewhere: Callable[[], set[str]] = set  # delivery ids accounted for otherwise (dead-lettered)
    health_seen: list[dict[str, Any]] = field(default_factory=list)
    states_seen: Counter[str] = field(default_factory=Counter)  # webhook states the admin API showed
    _stop: threading.Event = field(default_factory=threading.Event)

    def expected(self, group: Group, name: str) -> set[str]:
        return {delivery_id(group.hooks[name], e["event_id"]) for _, e in self.published if matches(name, e)}

    def missing(self) -> int:
        accounted = self.elsewhere()
        return sum(len(self.expected(g, n) - g.arrived(n) - accounted) for g in self.groups for n in FILTERS)

    def play(self, js: JetStreamClient, settle_s: float) -> None:
        """Publish, apply the faults on schedule, watch health, and wait up to `settle_s` for every delivery."""
        for group in self.groups:
            group.register(self.runtime)
        started = time.monotonic()
        timers = [threading.Timer(when, action, (g.receiver,)) for g in self.groups
                  for when, action in ((g.from_s, g.start), (g.until_s, g.end))]
        watcher = threading.Thread(target=self._watch, daemon=True)
        for timer in timers:
            timer.start()
        watcher.start()
        try:
            count = int(self.rate * self.seconds)
            for first in range(0, count, self.batch):
                events = [ha_record(ENTITIES[i % len(ENTITIES)], state=str(i), salt=uuid.uuid4().hex)
                          for i in range(first, min(first + self.batch, count))]
                js.publish_batch(subjects.ENRICHED, f"faults-{uuid.uuid4().hex[:12]}", events)
                self.published += [(time.monotonic(), e) for e in events]
                time.sleep(max(0.0, started + (first + self.batch) / self.rate - time.monotonic()))
            deadline = time.monotonic() + settle_s
            while self.missing() and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            for timer in timers:
                timer.join()
            self._stop.set()
            watcher.join(10)

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.health_seen.append(health(self.runtime))
                self.states_seen.update(h["state"] for h in admin(self.runtime, "GET", "/webhooks?limit=100")["items"])
            except (OSError, AssertionError, StopIteration, ValueError):  # a slow answer: the next look counts
                continue

    def delays(self, group: Group) -> float:
        """The longest time from publishing an event to its first correctly signed arrival, over the group."""
        published = {e["event_id"]: at for at, e in self.published}
        first: dict[str, float] = {}
        for r in group.receiver.all():
            if r.verified:
                first.setdefault(r.delivery_id, r.at - published[r.json()["event"]["event_id"]])
        return max(first.values(), default=0.0)

    def log(self, webhook_id: str) -> list[dict[str, Any]]:
        """A webhook's whole delivery log through the admin API, oldest first."""
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = admin(self.runtime, "GET", f"/webhooks/{webhook_id}/deliveries?limit=500{cursor}")
            items += page["items"]
            if not page["next_cursor"]:
                return items[::-1]
            cursor = f"&cursor={page['next_cursor']}"

    def metric(self, outcome: str) -> float:
        return sample(f"{self.runtime.ready['functions']['webhook-dispatch']}/_/metrics",
                      "ha_ingestor_webhook_deliveries_total", outcome=outcome)
