"""Prometheus metrics helpers: get-or-create, so modules can declare metrics where they use them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)
_metrics: dict[str, MetricWrapperBase] = {}

PREFIX = "ha_ingestor_"


def _get(kind: type[M], name: str, doc: str, labels: Sequence[str], **kwargs: object) -> M:
    full = PREFIX + name
    metric = _metrics.get(full)
    if metric is None:
        metric = kind(full, doc, list(labels), **kwargs)
        _metrics[full] = metric
    if not isinstance(metric, kind):
        raise TypeError(f"metric {full} already declared as {type(metric).__name__}")
    return metric


def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
    return _get(Counter, name, doc, labels)


def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    return _get(Gauge, name, doc, labels)


def histogram(name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] | None = None) -> Histogram:
    if buckets is None:
        return _get(Histogram, name, doc, labels)
    return _get(Histogram, name, doc, labels, buckets=list(buckets))


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of this process's registry and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
