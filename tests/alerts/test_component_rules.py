"""The alert rules over health's components (bridge_down, nats_down, pipeline_lag, dead_letters; store_down is the
Home Assistant test's): each opens from health's own status (GET /, its `components`) with health's reasons as its
evidence, closes when the component is well again, and leaves its alert as it is while it cannot be evaluated;
evaluated by the real Evaluator over a SQLite metadata DB, publishing to the local runtime's real NATS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingestor import subjects
from ingestor.alerts import rules
from ingestor.alerts.evaluate import Evaluator
from ingestor.alerts.settings import Settings
from ingestor.alerts.store import AlertStore
from ingestor.bus import Bus
from tests.support.jetstream import JetStreamClient
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration
SETTINGS = Settings(dlq_count=10)
HEALTHY = [{"name": "bridge", "status": "ok", "reasons": []}, {"name": "event-store", "status": "ok", "reasons": []},
           {"name": "nats", "status": "ok", "reasons": []},
           {"name": "dlq", "status": "ok", "reasons": [], "details": {"in_window": 0, "window_s": 3600}}]


def with_component(name: str, status: str, reasons: list[str], **details: Any) -> list[dict[str, Any]]:
    changed = {"name": name, "status": status, "reasons": reasons, **({"details": details} if details else {})}
    return [changed if c["name"] == name else c for c in HEALTHY]


def test_the_bridge_or_nats_unhealthy_is_a_critical_alert_with_health_s_reasons() -> None:
    for name, rule in (("bridge", rules.BRIDGE_DOWN), ("nats", rules.NATS_DOWN)):
        (found,) = rules.components(with_component(name, "unhealthy", ["disconnected for 95 s"]), SETTINGS)
        assert (found.rule, found.subject, found.severity) == (rule, name, "critical")
        assert found.summary.endswith(": disconnected for 95 s")
        assert found.evidence == {"component": name, "status": "unhealthy", "reasons": ["disconnected for 95 s"]}
    assert rules.components(with_component("bridge", "degraded", ["within its grace"]), SETTINGS) == [], \
        "a bridge within HEALTH_BRIDGE_GRACE_S is not down"


def test_a_consumer_lagging_over_health_s_bound_is_a_pipeline_lag_warning() -> None:
    reason = "write: 12000 pending (bound 10000)"
    (found,) = rules.components(with_component("nats", "degraded", [reason]), SETTINGS)
    assert (found.rule, found.severity, found.evidence["reasons"]) == (rules.LAG, "warning", [reason])


def test_dead_letters_open_an_alert_from_the_threshold_on_with_their_reasons() -> None:
    by_reason = [{"reason": "validate: time_fired: missing", "count": 10}]
    (found,) = rules.components(with_component("dlq", "degraded", [], in_window=10, window_s=3600,
                                               by_reason=by_reason), SETTINGS)
    assert (found.rule, found.severity, found.summary) == (rules.DEAD_LETTERS, "warning",
                                                           "10 dead letters in the last 60 min")
    assert (found.evidence["in_window"], found.evidence["by_reason"], found.evidence["threshold"]) == (
        10, by_reason, 10)
    assert rules.components(with_component("dlq", "degraded", [], in_window=9, window_s=3600), SETTINGS) == []


def no_event_store() -> Any:
    """The rules that read the event store are not under test here: they are skipped."""
    raise ConnectionError("no event store in this test")


def test_a_component_alert_opens_closes_and_waits_while_it_cannot_be_evaluated(
        runtime: LocalRuntime, js: JetStreamClient, tmp_path: Path) -> None:
    components: dict[str, list[dict[str, Any]]] = {"now": with_component("bridge", "unhealthy", ["refused"])}
    evaluator = Evaluator(AlertStore(f"sqlite:///{tmp_path}/metadata.db"), SETTINGS, no_event_store,
                          lambda: {"components": components["now"]}, Bus(runtime.nats_url, timeout=5))
    assert evaluator.evaluate().opened == ["bridge_down:bridge"]
    components["now"] = with_component("dlq", "degraded", [], in_window=25, window_s=3600)
    outcome = evaluator.evaluate()
    assert (outcome.opened, outcome.closed) == (["dead_letters:dlq"], ["bridge_down:bridge"])
    components["now"] = [c for c in HEALTHY if c["name"] != "dlq"] + [
        {"name": "dlq", "status": "unknown", "reasons": ["the dead-letter stream could not be read"]}]
    outcome = evaluator.evaluate()
    assert outcome.closed == [] and rules.DEAD_LETTERS in outcome.skipped, "not counted: left open"
    components["now"] = HEALTHY
    assert evaluator.evaluate().closed == ["dead_letters:dlq"]
    assert [a.rule for a in evaluator.alerts.active()] == []
    assert evaluator.evaluate().published == 0, "every start and end was published when it happened"
    published = sorted((e["alert"]["rule"], e["event_type"]) for e in js.events(subjects.ALERTS))
    assert published == [(rule, kind) for rule in (rules.BRIDGE_DOWN, rules.DEAD_LETTERS)
                         for kind in ("alert_ended", "alert_started")], "each start and end once"
