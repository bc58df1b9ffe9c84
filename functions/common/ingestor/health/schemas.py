"""JSON schemas of the health function's answers (OpenAPI 3.0.3: `nullable` marks what may be null)."""

from __future__ import annotations

from typing import Any


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties), **extra}


def _n(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
OVERALL = {"type": "string", "enum": ["ok", "degraded", "unhealthy"]}

COMPONENT = _obj({
    "name": STR,
    "kind": {"type": "string", "enum": ["bridge", "nats", "function", "store", "metadata", "archive", "context",
                                        "webhook"]},
    "status": {"type": "string", "enum": ["ok", "degraded", "unhealthy", "unknown"]},
    "reasons": {"type": "array", "items": STR, "description": "why the status is not ok; empty when ok"},
    "details": {"type": "object", "additionalProperties": True, "description": "the component's own figures"},
})
STATUS = _obj({"status": OVERALL, "checked_at": TIME,
               "components": {"type": "array", "items": {"$ref": "#/components/schemas/Component"}}})

STREAM = _obj({"name": STR, "messages": _n(INT), "bytes": _n(INT), "first_seq": _n(INT), "last_seq": _n(INT),
               "max_bytes": _n({**INT, "description": "the size at which the queue refuses new messages (-1: none)"}),
               "consumer_count": _n(INT)}, ["name", "messages", "bytes", "first_seq", "last_seq"])
STAGE = _obj({
    "function": STR, "topic": STR, "consumer": STR,
    "pending": {**INT, "description": "messages in the stream not yet delivered to the function"},
    "ack_pending": {**INT, "description": "delivered, not yet acknowledged"},
    "redelivered": INT, "delivered": INT, "last_active": _n(TIME), "last_ack": _n(TIME),
    "oldest_waiting": _n({**TIME, "description": "when the oldest message not yet acknowledged was stored"}),
    "backlog_age_s": _n({"type": "number", "description": "its age in seconds (null: nothing waits)"}),
    "invocations": _n({**INT, "description": "the function's requests (all topics), from its /_/metrics"}),
    "errors": _n({**INT, "description": "of which answered 4xx or 5xx"}),
    "outcomes": _n({"type": "object", "additionalProperties": INT,
                    "description": "the connector's counts for this consumer: acked, retried, unavailable, "
                                   "dlq_bad_input, dlq_max_deliveries (null where the connector's metrics "
                                   "are not reachable)"}),
}, ["function", "topic", "consumer", "pending", "ack_pending", "redelivered", "delivered", "last_active",
    "invocations", "errors"])
REASON_COUNT = _obj({"reason": STR, "count": {**INT, "description": "dead-letter records"},
                     "events": {**INT, "description": "events in those records"}}, ["reason", "count"])
RECENT = _obj({"time": _n(TIME), "stage": _n(STR), "reason": STR, "batch_id": _n(STR), "events": INT,
               "subject": _n(STR)}, ["time", "stage", "reason", "batch_id", "events"])
DLQ = _obj({"total": _n({**INT, "description": "dead letters the stream holds"}),
            "in_window": _n(INT), "window_s": NUM,
            "scanned": {**INT, "description": "records by_reason counts (the last HEALTH_DLQ_SCAN)"},
            "limited": {"type": "boolean", "description": "true when HEALTH_DLQ_MAX_BYTES allowed fewer "
                                                          "(the newest that fit)"},
            "by_reason": {"type": "array", "items": REASON_COUNT},
            "recent": {"type": "array", "items": RECENT, "description": "newest first"}},
           ["total", "by_reason", "recent"])
FUNCTION_FIGURES = _obj({"function": STR, "invocations": _n(INT), "errors": _n(INT)})
PIPELINE = _obj({"checked_at": TIME, "stream": STREAM, "stages": {"type": "array", "items": STAGE}, "dlq": DLQ,
                 "functions": {"type": "array", "items": FUNCTION_FIGURES},
                 "problems": {"type": "array", "items": STR, "description": "what could not be read"}},
                ["checked_at", "stream", "stages", "dlq"])

FUNCTION_CONFIG = _obj({"name": STR, "image": _n(STR), "topics": {"type": "array", "items": STR},
                        "schedule": _n(STR), "replicas": _n(INT), "available_replicas": _n(INT),
                        "connector": {"type": "object", "additionalProperties": STR},
                        "secrets": {"type": "array", "items": STR, "description": "names only"},
                        "labels": {"type": "object", "additionalProperties": STR}})
CONFIG = _obj({
    "checked_at": TIME,
    "functions": {"type": "array", "items": FUNCTION_CONFIG},
    "endpoints": {"type": "object", "additionalProperties": _n(STR), "description": "passwords masked"},
    "stream": _n({"type": "object", "additionalProperties": True}),
    "context": _n({"type": "object", "additionalProperties": True,
                   "description": "context-poll's GET /config (API keys masked)"}),
    "archive": _n({"type": "object", "additionalProperties": True,
                   "description": "retention-archive's settings (from its GET /status)"}),
    "health": {"type": "object", "additionalProperties": NUM, "description": "this function's thresholds"},
    "problems": {"type": "array", "items": STR},
})

COMPONENTS = {"Component": COMPONENT}
