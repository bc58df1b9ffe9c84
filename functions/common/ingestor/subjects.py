"""Every NATS name the pipeline's parts agree on, defined once: the stream and its subjects, the topic connector's
consumer names, and the ids of dead letters.

The bridge, the functions, the local runtime, the topic connector and the health function import them from
here; stack.yml's `topic` annotations name the same subjects (tests/deploy checks that they do).
"""

from __future__ import annotations

import re

STREAM = "HA"
"""The pipeline's queue: every subject below but the dead letters, each message kept until every stage that reads
its subject has acknowledged it (ingestor.streams declares the streams and their limits)."""
DLQ_STREAM = "HA_DLQ"
"""The dead letters, kept for days (they are the end of a message's way, read by people and the health function)."""
REPLAY_STREAM = "HA_REPLAY"
"""A copy of the raw events of the last hours, for replay and the bridge's backfill (read, never consumed)."""
EXTENSIONS = "ha.ext.>"
"""Subjects of a user's own functions (e.g. ha.ext.my-topic): queued in the stream like the pipeline's."""

RAW = "ha.events.raw"
"""HA's events as the bridge read them -> validate."""
VALID = "ha.events.valid"
"""Events that passed validate -> normalize."""
NORMALIZED = "ha.events.normalized"
"""Event records (ingestor.record) -> weather-enrich."""
ENRICHED = "ha.events.enriched"
"""Event records with their context values -> write, webhook-dispatch."""
DLQ = "ha.events.dlq"
"""Dead letters of every stage, the connector and the bridge (ingestor.dlq)."""
REGISTRY = "ha.registry"
"""The bridge's registry snapshots (areas, devices, entities, HA's config) -> metadata-sync."""
CONTEXT_SAMPLES = "ha.context.samples"
"""Context values and sports scores as event records -> write."""
SPORTS_EVENTS = "sports.events"
"""game_started, score_changed, game_ended -> webhook-dispatch."""
ALERTS = "ha.alerts"
"""alert_started, alert_ended (ingestor.alerts.events), published by health's evaluation -> webhook-dispatch."""

STREAM_SUBJECTS = (RAW, VALID, NORMALIZED, ENRICHED, REGISTRY, CONTEXT_SAMPLES, ALERTS, "sports.>", EXTENSIONS)
"""What the stream HA holds: everything but DLQ; "sports.>" holds SPORTS_EVENTS and the sports subjects of a
user's own functions."""

CRON = "cron-function"
"""The `topic` annotation of a function the cron connector invokes on its `schedule` (OpenFaaS's convention)."""

ASYNC_STREAM = "FAAS_ASYNC"
"""The local gateway's queue of asynchronous invocations (POST /async-function/<name>)."""


def async_subject(function: str) -> str:
    return f"faas.async.{function}"


_DURABLE = "--"
_SUBJECT_CHARS = {".": "_", "*": "star", ">": "all"}


def durable_name(function: str, subject: str) -> str:
    """The topic connector's durable consumer for `function` on `subject`: `<function>--<subject>`, with the
    characters a consumer name may not hold ('.', '*', '>') spelled out."""
    return f"{function}{_DURABLE}{re.sub(r'[^A-Za-z0-9_-]', lambda m: _SUBJECT_CHARS.get(m[0], '_'), subject)}"


def stream_of(subject: str) -> str:
    """The stream a subject's messages are stored in."""
    return DLQ_STREAM if subject == DLQ else STREAM


def function_of(durable: str) -> str | None:
    """The function a connector consumer feeds, or None for a consumer the connector did not make."""
    function, separator, _ = durable.partition(_DURABLE)
    return function if separator else None


def stage_dlq_id(batch_id: str) -> str:
    """The dead letter of the events a stage rejected from the batch it published as `batch_id`."""
    return f"{batch_id}:dlq"


def connector_dlq_id(function: str, stream: str, sequence: int) -> str:
    """The dead letter of a message the topic connector gave up on: one per stream message and function."""
    return f"connector:{function}:{stream}:{sequence}"


def bridge_dlq_id(batch_id: str) -> str:
    """The dead letter of an event the bridge cannot carry, named after the batch it was part of."""
    return f"{batch_id}-dlq"
