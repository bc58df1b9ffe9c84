"""What each component is asked, and how its answer becomes plain data or a judged Component.

Every probe raises on trouble; the runner turns a raise or a timeout into that component's finding.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError

from ingestor import subjects
from ingestor.health import deadletters, masking, rules
from ingestor.health.gatewayclient import Gateway, HttpClient, TimedOut, Unreachable, basic_auth
from ingestor.health.jetstream import JetStreamMonitor
from ingestor.health.model import Component
from ingestor.health.runner import ProbeTimeout
from ingestor.health.settings import Settings
from ingestor.httpapi import iso
from ingestor.store.protocol import EventStore

OWN_CONSUMER_PREFIX = "health-"


@dataclass
class Deps:
    """Connections opened once per process and shared by every probe."""

    settings: Settings
    http: HttpClient = field(init=False)
    monitor: JetStreamMonitor = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _bridge_down_since: dict[str, float] = field(default_factory=dict)  # per replica's URL
    _starting_since: dict[str, float] = field(default_factory=dict)  # per function starting from zero
    _gateway_auth: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self.http = HttpClient(self.settings.probe_timeout_s)
        self._gateway_auth = basic_auth()
        self.monitor = JetStreamMonitor(self.settings.nats_url, self.settings.stream, self.settings.probe_timeout_s)

    @property
    def gateway(self) -> Gateway | None:
        return Gateway(self.settings.gateway_url, self.http, self._gateway_auth) if self.settings.gateway_url else None

    @cached_property
    def event_store(self) -> EventStore:
        from ingestor import store

        return store.open_event_store(self.settings.store_url)

    @cached_property
    def metadata_db(self) -> Any:
        from ingestor.metadata.registry import MetadataDB

        return MetadataDB(self.settings.metadata_url)

    @cached_property
    def webhook_store(self) -> Any:
        from ingestor.webhooks.store import WebhookStore

        return WebhookStore(self.settings.metadata_url)

    def bridge_disconnected(self, url: str, connected: bool) -> float | None:
        """Seconds the bridge replica at `url` has been seen disconnected (None while connected)."""
        return self._seen_for(self._bridge_down_since, url, not connected)

    def starting_for(self, name: str, starting: bool) -> float | None:
        """Seconds `name` has been seen starting from zero (None once it is not)."""
        return self._seen_for(self._starting_since, name, starting)

    def _seen_for(self, since: dict[str, float], key: str, holds: bool) -> float | None:
        """Seconds a condition has held for `key` at every check since it was first seen (None when it does not)."""
        with self._lock:
            if not holds:
                since.pop(key, None)
                return None
            return time.monotonic() - since.setdefault(key, time.monotonic())


# -- the gateway and functions --------------------------------------------------------------------

def functions(deps: Deps) -> list[dict[str, Any]]:
    gateway = deps.gateway
    if gateway is None:
        raise Unreachable("not configured (GATEWAY_URL empty)")
    return gateway.functions()


def function(deps: Deps, fn: dict[str, Any]) -> Component:
    if rules.scaled_to_zero(fn):  # calling it would start it
        return rules.idle(fn)
    starting_for = deps.starting_for(fn["name"], rules.starting(fn))
    if starting_for is not None:  # calling it would wait for its start
        return rules.started(fn, starting_for, deps.settings)
    assert deps.gateway is not None
    try:
        answer = deps.gateway.call(fn["name"], "_/health")
    except TimedOut as exc:  # judged by the caller, which knows whether it was slow the last time too
        raise ProbeTimeout(str(exc)) from None
    except Unreachable as exc:
        return rules.function(fn, None, None, str(exc))
    try:
        body = masking.scrub(answer.json())
    except Unreachable:
        body = {"answer": answer.excerpt()}
    return rules.function(fn, answer.status, body, None)


def gateway_component(deps: Deps, listed: list[dict[str, Any]] | Exception) -> Component:
    """The gateway itself (kind "function": it is what serves them)."""
    c = Component("gateway", "function", details={"url": deps.settings.gateway_url})
    if deps.settings.gateway_url is None:
        c.status = "unknown"
        c.reasons.append("not configured (GATEWAY_URL empty)")
    elif isinstance(listed, Exception):
        c.worsen("unhealthy", f"gateway {deps.settings.gateway_url} unreachable: {listed}; functions not checked")
    else:
        c.details["functions"] = len(listed)
    return c


def function_json(deps: Deps, name: str, path: str) -> Any:
    """A function's JSON answer to GET `path`, secrets masked; Unreachable unless 200 with JSON."""
    gateway = deps.gateway
    if gateway is None:
        raise Unreachable("not configured (GATEWAY_URL empty)")
    return masking.scrub(gateway.json(name, path))


def metrics_text(deps: Deps, url: str) -> str:
    answer = deps.http.get(url)
    if answer.status != 200:
        raise Unreachable(f"{url}: HTTP {answer.status}")
    return answer.body.decode("utf-8", "replace")


# -- the bridge -----------------------------------------------------------------------------------

def bridge(deps: Deps) -> Component:
    urls = deps.settings.bridge_urls
    if not urls:
        return rules.no_bridge()
    return rules.bridges([_bridge_replica(deps, url) for url in urls])


def _bridge_replica(deps: Deps, url: str) -> Component:
    try:
        answer = deps.http.get(f"{url}/health")
        body = answer.json()
    except Unreachable as exc:
        deps.bridge_disconnected(url, False)
        return rules.bridge(None, f"{url}: {exc}", None, deps.settings)
    if not isinstance(body, dict):
        return rules.bridge(None, f"{url}/health did not answer an object", None, deps.settings)
    body = masking.scrub(body)
    down = deps.bridge_disconnected(url, bool(body.get("connected") and body.get("authenticated")))
    return rules.bridge(body, None, down, deps.settings)


# -- stores ---------------------------------------------------------------------------------------

def event_store(deps: Deps) -> Component:
    c = Component("event-store", "store", details={"url": masking.url(deps.settings.store_url)})
    try:
        state = deps.event_store.health()
    except Exception as exc:  # a URL that cannot even be opened
        c.worsen("unhealthy", f"cannot open the event store: {type(exc).__name__}: {exc}")
        return c
    c.details.update({"backend": state.backend, "latency_ms": state.latency_ms,
                      **masking.scrub(dict(state.details or {}))})
    if state.status != "ok":
        c.worsen("unhealthy", f"event store unavailable: {state.reason or 'no reason given'}")
    return c


def metadata(deps: Deps) -> Component:
    """Down: degraded, not unhealthy. Events are still captured and stored; device/area context waits."""
    c = Component("metadata-db", "metadata", details={"url": masking.url(deps.settings.metadata_url)})
    try:
        state = deps.metadata_db.health()
    except Exception as exc:
        c.worsen("degraded", f"cannot open the metadata DB: {type(exc).__name__}: {exc}")
        return c
    c.details.update({k: v for k, v in state.items() if k != "status"})
    if state.get("status") != "ok":
        c.worsen("degraded", f"metadata DB unavailable: {state.get('reason') or 'no reason given'}")
    return c


def webhooks(deps: Deps) -> Component:
    """The webhooks' states and backlogs, from the metadata DB where webhook-dispatch keeps them."""
    hooks = deps.webhook_store.page(100_000, None)
    return rules.webhooks(hooks, deps.webhook_store.backlogs(), deps.settings, dt.datetime.now(dt.UTC))


# -- NATS -----------------------------------------------------------------------------------------

def consumer_row(info: ConsumerInfo, oldest_waiting: dt.datetime | None = None) -> dict[str, Any]:
    """A connector consumer as a pipeline stage (its name: ingestor.subjects.durable_name); its backlog is the
    messages waiting (pending, ack_pending), the oldest of them stored at `oldest_waiting`."""
    name = info.name
    config = info.config
    topic = config.filter_subject or ",".join(config.filter_subjects or [])
    delivered, floor = info.delivered, info.ack_floor
    return {"function": subjects.function_of(name), "topic": topic, "consumer": name,
            "pending": int(info.num_pending or 0), "ack_pending": int(info.num_ack_pending or 0),
            "redelivered": int(info.num_redelivered or 0),
            "delivered": int(delivered.consumer_seq) if delivered else 0,
            "last_active": iso(delivered.last_active) if delivered and delivered.last_active else None,
            "oldest_waiting": iso(oldest_waiting) if oldest_waiting else None,
            "backlog_age_s": round((dt.datetime.now(dt.UTC) - oldest_waiting).total_seconds(), 1)
            if oldest_waiting else None,
            "last_ack_at": floor.last_active if floor else None, "created_at": info.created}


async def _nats_state(monitor: JetStreamMonitor, js: JetStreamContext) -> dict[str, Any]:
    stream, dlq_total = await monitor.stream_state(js, subjects.DLQ)
    consumers = []
    for info in await monitor.consumers(js):
        if not info.name.startswith(OWN_CONSUMER_PREFIX):
            waiting = info.num_pending or info.num_ack_pending
            consumers.append(consumer_row(info, await monitor.oldest_waiting(js, info) if waiting else None))
    return {"stream": stream, "dlq_total": dlq_total, "consumers": sorted(consumers, key=lambda r: r["consumer"])}


def nats_state(deps: Deps) -> dict[str, Any]:
    return deps.monitor.run(lambda js: _nats_state(deps.monitor, js))


def nats_component(deps: Deps, state: dict[str, Any] | Exception) -> Component:
    c = Component("nats", "nats", details={"url": masking.url(deps.settings.nats_url)})
    if isinstance(state, NotFoundError):
        c.worsen("unhealthy", f"stream {deps.settings.stream} not found on {masking.url(deps.settings.nats_url)}")
        return c
    if isinstance(state, Exception):
        c.worsen("unhealthy", f"NATS JetStream unreachable at {masking.url(deps.settings.nats_url)}: {_why(state)}")
        return c
    c.details.update(deps.monitor.server_info())
    c.details["stream"] = state["stream"]
    c.details["consumers"] = [{k: v for k, v in row.items() if k not in ("last_ack_at", "created_at")}
                              | {"last_ack_at": iso(row["last_ack_at"]) if row["last_ack_at"] else None}
                              for row in state["consumers"]]
    rules.consumer_lag(c, state["consumers"], deps.settings, dt.datetime.now(dt.UTC))
    return c


def dead_letters(deps: Deps, scan: int, window_only: bool) -> dict[str, Any]:
    """DLQ figures: total held, how many in the window, and a summary of the last `scan` records
    (only those within the window when `window_only`: the reasons GET / gives must be current).

    The counts come from the stream and a consumer's pending count, without reading a record, so they
    stand even when the records cannot be read in time; `unread` then says why the summary is empty."""
    settings = deps.settings
    budget = settings.probe_timeout_s * 2

    async def work(js: JetStreamContext) -> dict[str, Any]:
        started = time.monotonic()
        _, total = await deps.monitor.stream_state(js, subjects.DLQ)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.dlq_window_s)
        in_window = await deps.monitor.count_since(js, subjects.DLQ, since) if total else 0
        wanted = min(scan, in_window) if window_only else scan
        counts = {"total": total, "in_window": in_window}
        try:
            read = await asyncio.wait_for(
                deps.monitor.last_messages(js, subjects.DLQ, total, wanted, (since, in_window), settings.dlq_max_bytes),
                max(budget - (time.monotonic() - started) - 0.25, 0.1))
        except Exception as exc:  # noqa: BLE001 - any NATS error or the deadline: the counts still stand
            return {**counts, **deadletters.summarise([], 0), "limited": False, "unread": problem(exc)}
        return {**counts, **deadletters.summarise(read.messages, min(settings.dlq_recent, wanted)),
                "limited": read.limited, "unread": None}

    return deps.monitor.run(work, timeout=budget)


def dlq_component(deps: Deps, found: dict[str, Any] | Exception) -> Component:
    """Dead letters that cannot be counted may be fresh ones: degraded, never ok."""
    if isinstance(found, Exception):
        return Component("dlq", "nats", "degraded", [f"dead letters not readable: {_why(found)}"])
    return rules.dead_letters(found["in_window"], found["total"], found["by_reason"], deps.settings,
                              found.get("unread"))


def _why(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text and text != type(exc).__name__ else type(exc).__name__


def problem(exc: Exception) -> str:
    return masking.scrub(_why(exc))
