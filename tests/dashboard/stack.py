"""The dashboard's test home: the real local runtime with every function the views call, fed real-format
events, a registry snapshot, a webhook pointing at a local receiver, and sports and weather from local
stand-ins (ESPN and Open-Meteo cannot be reached from here). Used by the browser tests and the benchmark.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestor import apikeys, subjects
from tests.dashboard import home
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.providers import ProviderServer
from tests.support.runtime import LocalRuntime

STACK = Path(__file__).resolve().parent / "stack.dashboard.yml"
SPORTS_TEAMS = "nfl:SF"


class Receiver:
    """A user's webhook endpoint: records every POST it receives and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    outer.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                except ValueError:
                    outer.bodies.append({})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def scoreboard(now: dt.datetime) -> dict[str, Any]:
    """ESPN's NFL scoreboard document (its real shape) with one live game of the followed team."""
    start = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")

    def side(home_away: str, abbreviation: str, name: str, score: int, record: str) -> dict[str, Any]:
        return {"homeAway": home_away, "score": str(score), "records": [{"type": "total", "summary": record}],
                "team": {"abbreviation": abbreviation, "displayName": name}}

    return {"leagues": [{"abbreviation": "NFL"}], "season": {"year": now.year, "type": 2}, "week": {"number": 12},
            "events": [{"id": "401671999", "date": start, "name": "Dallas Cowboys at San Francisco 49ers",
                        "shortName": "DAL @ SF", "season": {"year": now.year, "type": 2},
                        "competitions": [{"competitors": [side("home", "SF", "San Francisco 49ers", 14, "7-4"),
                                                          side("away", "DAL", "Dallas Cowboys", 10, "5-6")],
                                          "status": {"displayClock": "7:12", "period": 3,
                                                     "type": {"name": "STATUS_IN_PROGRESS", "state": "in",
                                                              "completed": False,
                                                              "shortDetail": "7:12 - 3rd"}}}]}]}


class Providers(ProviderServer):
    """Open-Meteo (recorded) and ESPN's scoreboard on one local server."""

    def answer(self, path: str, query: str) -> tuple[int, Any]:
        if path.endswith("/scoreboard"):
            return 200, scoreboard(dt.datetime.now(dt.UTC))
        return super().answer(path, query)


@dataclass
class Home:
    runtime: LocalRuntime
    receiver: Receiver
    providers: Providers
    events: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    closers: list[Any] = field(default_factory=list)
    publish: Any = None  # JetStreamClient.publish_batch of the stack's own client

    @property
    def gateway(self) -> str:
        return self.runtime.gateway

    @property
    def dashboard(self) -> str:
        return f"{self.gateway}/function/dashboard/"

    @property
    def webhooks_key(self) -> str:
        """The webhooks-api-key the runtime generated on its first run (`make run` does the same)."""
        return self.runtime.secret(apikeys.WEBHOOKS.secret)

    def get(self, path: str) -> Any:
        """A function's answer to GET `path` (the webhooks API's reads need its key too), None unless 200."""
        reply = call("GET", f"{self.gateway}/function/{path}", headers={"X-API-Key": self.webhooks_key}, timeout=30)
        return reply.json() if reply.status == 200 else None


def _count(h: Home, entity_id: str) -> int:
    page = h.get(f"query/events?entity_id={entity_id}&limit=1000&start=-24h")
    return len(page["items"]) if page else 0


def start(workdir: Path, timeout: float = 90) -> Home:
    """The runtime up with the home's data stored and queryable; stop it with `stop`."""
    receiver, providers = Receiver(), Providers()
    runtime = LocalRuntime(workdir, stack=STACK, env={
        "TEST_PROVIDER_URL": providers.url, "TEST_ESPN_URL": providers.url, "TEST_SPORTS_TEAMS": SPORTS_TEAMS,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"})
    try:
        runtime.start(timeout)
        h = Home(runtime, receiver, providers)
        js = JetStreamClient(runtime.nats_url, observe=False)  # publishes only; the dashboard shows health
        h.publish = js.publish_batch
        h.closers.append(js.close)
        js.publish_batch(subjects.REGISTRY, "dashboard-registry", home.registry())
        assert wait_for(lambda: (h.get("query/devices") or {}).get("items"), timeout, 0.5), "devices never queryable"
        reply = call("POST", f"{h.gateway}/function/webhooks/webhooks", json.dumps({
            "url": receiver.url, "name": "Kitchen watcher",
            "filters": {"entity_ids": [home.TEMPERATURE, "input_boolean.*"]}}).encode(),
            runtime.keyed(apikeys.WEBHOOKS))
        assert reply.status == 201, reply.body
        h.webhook = reply.json()
        h.events = home.everything()
        js.publish_batch(subjects.RAW, "dashboard-home", h.events)
        js.publish_batch(subjects.RAW, "dashboard-mixed", [h.events[-1], {**h.events[0], "time_fired": None}])
        runtime.signed_call("POST", "context-poll")
        runtime.signed_call("POST", "sports-poll")
        assert wait_for(lambda: _count(h, home.TEMPERATURE) == len(home.TEMPERATURES), timeout, 0.5), \
            "the temperatures never became queryable"
        assert wait_for(lambda: (h.get("query/stats/summary?start=-24h") or {}).get("total", 0) >= len(h.events),
                        timeout, 0.5), "the home's events were never all stored"
        assert wait_for(lambda: receiver.bodies, timeout, 0.5), "the webhook never received an event"
        return h
    except BaseException:
        for close in h.closers if "h" in locals() else []:
            close()
        stop_parts(runtime, receiver, providers)
        raise


def stop_parts(runtime: LocalRuntime, receiver: Receiver, providers: Providers) -> None:
    try:
        runtime.stop()
    finally:
        receiver.close()
        providers.close()


def stop(h: Home) -> None:
    for close in h.closers:
        close()
    stop_parts(h.runtime, h.receiver, h.providers)
