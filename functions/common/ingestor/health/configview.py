"""GET /config: the system's configuration as the health function can see it, every secret masked."""

from __future__ import annotations

from typing import Any

from nats.js.api import StreamInfo

from ingestor import redaction
from ingestor.health import masking, probes
from ingestor.health.settings import Settings

CONNECTOR_PREFIX = "com.ha-ingestor."


def function_entry(fn: dict[str, Any]) -> dict[str, Any]:
    annotations = fn.get("annotations") or {}
    return {
        "name": fn["name"], "image": fn.get("image"),
        "topics": [t.strip() for t in str(annotations.get("topic") or "").split(",") if t.strip()],
        "schedule": annotations.get("schedule"),
        "replicas": fn.get("replicas"), "available_replicas": fn.get("availableReplicas"),
        "connector": {k.removeprefix(CONNECTOR_PREFIX): v for k, v in annotations.items()
                      if k.startswith(CONNECTOR_PREFIX)},
        "secrets": [str(s) for s in fn.get("secrets") or []],  # names only; values never leave their files
        "labels": fn.get("labels") or {},
    }


def _stream(info: StreamInfo) -> dict[str, Any]:
    c = info.config
    return {"name": c.name, "subjects": c.subjects, "max_age_s": c.max_age, "max_bytes": c.max_bytes,
            "duplicate_window_s": c.duplicate_window, "storage": getattr(c.storage, "value", c.storage),
            "retention": getattr(c.retention, "value", c.retention)}


def _or_problem(value: Any) -> tuple[Any, str | None]:
    return (None, probes.problem(value)) if isinstance(value, Exception) else (value, None)


def view(settings: Settings, found: dict[str, Any], checked_at: str) -> dict[str, Any]:
    problems: list[str] = []
    listed, problem = _or_problem(found["functions"])
    if problem:
        problems.append(f"functions not listed: {problem}")
    context, problem = _or_problem(found["context"])
    if problem:
        problems.append(f"context sources: {problem}")
    archive_status, problem = _or_problem(found["archive"])
    if problem:
        problems.append(f"archive: {problem}")
    stream, problem = _or_problem(found["stream"])
    if problem:
        problems.append(f"stream: {problem}")
    out = {
        "checked_at": checked_at,
        "functions": [function_entry(fn) for fn in listed or []],
        "endpoints": {"gateway": masking.url(settings.gateway_url),
                      "bridge": ",".join(str(masking.url(u)) for u in settings.bridge_urls) or None,
                      "nats": masking.url(settings.nats_url), "event_store": masking.url(settings.store_url),
                      "metadata_db": masking.url(settings.metadata_url),
                      "connector_metrics": masking.url(settings.connector_metrics_url)},
        "stream": _stream(stream) if stream is not None else None,
        "context": context,
        "archive": (archive_status or {}).get("config") if isinstance(archive_status, dict) else None,
        "health": settings.thresholds,
        "problems": [redaction.redact(p) for p in problems],
    }
    return masking.scrub(out)
