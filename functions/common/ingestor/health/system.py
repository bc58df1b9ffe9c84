"""GET /, /pipeline and /config assembled from concurrent probes; one instance per process, results cached."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from ingestor import redaction
from ingestor.health import configview, probes, promtext, rules
from ingestor.health.model import Component, Kind, Status, overall
from ingestor.health.probes import Deps
from ingestor.health.runner import Cached, ProbeRunner, ProbeTimeout
from ingestor.health.settings import Settings
from ingestor.httpapi import iso

ARCHIVE_FUNCTION = "retention-archive"
CONTEXT_FUNCTION = "context-poll"


def _failed(result: Any, name: str, kind: Kind, status: Status = "unhealthy") -> Component:
    """A probe's Component, or the component judged `status` because the probe raised or timed out."""
    if isinstance(result, Component):
        return result
    return Component(name, kind, status, [f"check failed: {probes.problem(result)}"])


class HealthSystem:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.deps = Deps(settings)
        self.runner = ProbeRunner()
        self._status = Cached(self._compute_status, settings.cache_s)
        self._pipeline = Cached(self._compute_pipeline, settings.cache_s)
        self._config = Cached(self._compute_config, settings.cache_s)
        self._slow: dict[str, int] = {}  # function -> consecutive checks its /_/health timed out
        self._last: dict[str, dict[str, Any]] = {}  # function -> its last GET /status answer

    def status(self) -> dict[str, Any]:
        return self._status.get()

    def pipeline(self) -> dict[str, Any]:
        return self._pipeline.get()

    def config(self) -> dict[str, Any]:
        return self._config.get()

    def _gather(self, probes_: dict[str, Callable[[], Any]], factor: float = 1.0) -> dict[str, Any]:
        return self.runner.gather(probes_, self.settings.probe_timeout_s * factor + 0.25)

    # -- GET / ----------------------------------------------------------------------------------------

    def _compute_status(self) -> dict[str, Any]:
        d, s = self.deps, self.settings
        first = self._gather({
            "functions": lambda: probes.functions(d),
            "bridge": lambda: probes.bridge(d),
            "nats": lambda: probes.nats_state(d),
            "dlq:window": lambda: probes.dead_letters(d, s.dlq_recent, window_only=True),
            "store": lambda: probes.event_store(d),
            "metadata": lambda: probes.metadata(d),
            "webhooks": lambda: probes.webhooks(d),
        }, factor=2)
        listed = first["functions"]
        components = [probes.gateway_component(d, listed), _failed(first["bridge"], "bridge", "bridge"),
                      probes.nats_component(d, first["nats"]), probes.dlq_component(d, first["dlq:window"])]
        names = [] if isinstance(listed, Exception) else [fn["name"] for fn in listed]
        second: dict[str, Any] = {}
        if names:
            later: dict[str, Callable[[], Any]] = {
                f"fn:{fn['name']}": functools.partial(probes.function, d, fn) for fn in listed}
            idle = {fn["name"] for fn in listed if rules.scaled_to_zero(fn)}
            for function in (ARCHIVE_FUNCTION, CONTEXT_FUNCTION):
                if function in names and function not in idle:  # calling one at zero would start it
                    later[function] = functools.partial(probes.function_json, d, function, "status")
            second = self._gather(later)
            components += [self._function(n, second[f"fn:{n}"]) for n in sorted(names)]
        components += [_failed(first["store"], "event-store", "store"),
                       _failed(first["metadata"], "metadata-db", "metadata", "degraded"),
                       _failed(first["webhooks"], "webhook-deliveries", "webhook", "degraded")]
        components.append(self._archive(names, self._status_of(ARCHIVE_FUNCTION, names, second)))
        components += self._context(names, self._status_of(CONTEXT_FUNCTION, names, second))
        return {"status": overall(components), "checked_at": _now(), "components": [c.as_dict() for c in components]}

    def _function(self, name: str, result: Any) -> Component:
        """A function too slow to answer once is degraded (a cold start under load looks like that);
        still silent at the next check, unhealthy. Refused or failing answers are unhealthy at once."""
        if not isinstance(result, ProbeTimeout):
            self._slow.pop(name, None)
            return _failed(result, name, "function")
        self._slow[name] = self._slow.get(name, 0) + 1
        if self._slow[name] == 1:
            return Component(name, "function", "degraded", [f"health check slow: {result}"])
        return Component(name, "function", "unhealthy",
                         [f"health check failed: {result}, {self._slow[name]} checks in a row"])

    def _status_of(self, function: str, names: list[str], second: dict[str, Any]) -> Any:
        """The function's GET /status now; while it is scaled to zero, the last one it gave (a function that
        runs on a schedule or on demand has nothing new to say while it does not run), or _Idle before any."""
        if function in second:
            found = second[function]
            if isinstance(found, dict):
                self._last[function] = found
            return found
        if function not in names:
            return None
        return self._last.get(function) or _Idle(f"{function} is scaled to zero: its status is read when it next runs")

    def _archive(self, names: list[str], found: Any) -> Component:
        if ARCHIVE_FUNCTION not in names:
            return Component("archive", "archive", "unknown", [f"{ARCHIVE_FUNCTION} not deployed"
                                                               if names else "functions not listed"])
        if isinstance(found, _Idle):
            return Component("archive", "archive", "unknown", [str(found)])
        if isinstance(found, Exception) or not isinstance(found, dict):
            return Component("archive", "archive", "unknown", [f"status not readable: {probes.problem(found)}"
                                                               if isinstance(found, Exception) else "no status"])
        return rules.archive(found)

    def _context(self, names: list[str], found: Any) -> list[Component]:
        if CONTEXT_FUNCTION not in names:
            return [Component("context", "context", "unknown", [f"{CONTEXT_FUNCTION} not deployed"
                                                                if names else "functions not listed"])]
        if isinstance(found, _Idle):
            return [Component("context", "context", "unknown", [str(found)])]
        if isinstance(found, Exception) or not isinstance(found, dict):
            return [Component("context", "context", "unknown", [f"status not readable: {probes.problem(found)}"
                                                                 if isinstance(found, Exception) else "no status"])]
        return rules.context_sources(found) or [Component("context", "context", "unknown", ["no sources configured"])]

    # -- GET /pipeline --------------------------------------------------------------------------------

    def _compute_pipeline(self) -> dict[str, Any]:
        d, s = self.deps, self.settings
        first_probes: dict[str, Callable[[], Any]] = {
            "nats": lambda: probes.nats_state(d),
            "dlq:scan": lambda: probes.dead_letters(d, s.dlq_scan, window_only=False),
            "functions": lambda: probes.functions(d),
        }
        if s.connector_metrics_url:
            first_probes["connector"] = lambda: probes.metrics_text(d, s.connector_metrics_url or "")
        first = self._gather(first_probes, factor=2)
        problems: list[str] = []
        listed = first["functions"]
        if isinstance(listed, Exception):
            problems.append(f"functions not listed: {probes.problem(listed)}")
            listed = []
        texts = self._gather({f"metrics:{fn['name']}": functools.partial(
            probes.metrics_text, d, f"{s.gateway_url}/function/{fn['name']}/_/metrics") for fn in listed})
        requests: dict[str, dict[str, int]] = {}
        for fn in listed:
            text = texts[f"metrics:{fn['name']}"]
            if isinstance(text, Exception):
                problems.append(f"{fn['name']}: metrics not read: {probes.problem(text)}")
            else:
                requests[fn["name"]] = promtext.requests_by_function(text).get(fn["name"], {"invocations": 0,
                                                                                           "errors": 0})
        connector = first.get("connector")
        outcomes = {} if connector is None or isinstance(connector, Exception) \
            else promtext.connector_outcomes(connector)
        state = first["nats"]
        stream: dict[str, Any] = {"name": s.stream, "messages": None, "bytes": None, "first_seq": None,
                                  "last_seq": None}
        stages: list[dict[str, Any]] = []
        if isinstance(state, Exception):
            problems.append(f"NATS JetStream unreachable: {probes.problem(state)}")
        else:
            stream = state["stream"]
            for row in state["consumers"]:
                if row["function"] is None:
                    continue
                figures = requests.get(row["function"], {})
                stages.append({**{k: v for k, v in row.items() if k not in ("last_ack_at", "created_at")},
                               "last_ack": iso(row["last_ack_at"]) if row["last_ack_at"] else None,
                               "invocations": figures.get("invocations"), "errors": figures.get("errors"),
                               "outcomes": outcomes.get((row["function"], row["topic"]))})
        found = first["dlq:scan"]
        dlq: dict[str, Any] = {"total": None, "in_window": None, "window_s": s.dlq_window_s, "scanned": 0,
                               "limited": False, "by_reason": [], "recent": []}
        if isinstance(found, Exception):
            problems.append(f"dead letters not readable: {probes.problem(found)}")
        else:
            unread = found.pop("unread", None)
            if unread:
                problems.append(f"dead-letter records not readable: {unread}")
            dlq.update(found)
        functions = [{"function": fn["name"], **requests.get(fn["name"], {"invocations": None, "errors": None})}
                     for fn in listed]
        return {"checked_at": _now(), "stream": stream, "stages": stages, "dlq": dlq, "functions": functions,
                "problems": [redaction.redact(p) for p in problems]}

    # -- GET /config ----------------------------------------------------------------------------------

    def _compute_config(self) -> dict[str, Any]:
        d = self.deps
        found = self._gather({
            "functions": lambda: probes.functions(d),
            "context": lambda: probes.function_json(d, CONTEXT_FUNCTION, "config"),
            "archive": lambda: probes.function_json(d, ARCHIVE_FUNCTION, "status"),
            "stream": lambda: d.monitor.run(lambda js: js.stream_info(self.settings.stream)),
        })
        return configview.view(self.settings, found, _now())


class _Idle(Exception):  # noqa: N818 - a probe result, not raised
    """A status not read because its function is idle at zero replicas."""


def _now() -> str:
    return iso(dt.datetime.now(dt.UTC)) or ""
