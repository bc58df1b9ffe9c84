"""Counters out of Prometheus text (a function's /_/metrics, the runtime's /metrics)."""

from __future__ import annotations

from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

from ingestor import metrics

Labels = tuple[tuple[str, str], ...]


def counter_samples(text: str, name: str) -> dict[Labels, float]:
    """Every `<prefix><name>_total` sample by its labels; `name` is given without the project prefix."""
    wanted = metrics.PREFIX + name.removesuffix("_total")
    out: dict[Labels, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            if family.name != wanted:
                continue
            for sample in family.samples:
                if sample.name == wanted + "_total":
                    out[tuple(sorted(sample.labels.items()))] = sample.value
    except ValueError:  # a malformed exposition counts as no figures, never as a failed health call
        return {}
    return out


def requests_by_function(text: str) -> dict[str, dict[str, int]]:
    """function_requests_total per function: invocations and errors (answers 4xx and 5xx)."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"invocations": 0, "errors": 0})
    for labels, value in counter_samples(text, "function_requests_total").items():
        found = dict(labels)
        figures = out[found.get("function", "")]
        figures["invocations"] += int(value)
        if found.get("status", "").startswith(("4", "5")):
            figures["errors"] += int(value)
    return dict(out)


def connector_outcomes(text: str) -> dict[tuple[str, str], dict[str, int]]:
    """connector_messages_total per (function, topic): acked, retried, unavailable, dlq_* counts."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for labels, value in counter_samples(text, "connector_messages_total").items():
        found = dict(labels)
        out[(found.get("function", ""), found.get("topic", ""))][found.get("outcome", "")] = int(value)
    return dict(out)
