"""A fetched context value as event records, one series per metric (entity `context.<source>_<metric>`),
so the dashboard can chart outdoor temperature beside indoor sensors."""

from __future__ import annotations

import hashlib
from typing import Any

from ingestor import record
from ingestor.context.model import Source
from ingestor.record import EventRecord

EVENT_TYPE = "context_sample"


def records(source: Source, values: dict[str, Any], fetched_at: str) -> list[EventRecord]:
    out = []
    for metric in source.metrics:
        value = values.get(metric.key)
        if not isinstance(value, int | float):
            continue
        entity = f"context.{source.key}_{metric.key}"
        out.append(record.new(
            hashlib.blake2b(f"{entity}|{fetched_at}".encode(), digest_size=16).hexdigest(), EVENT_TYPE, fetched_at,
            origin="LOCAL", entity_id=entity, domain="context", state=str(value), state_value=float(value),
            unit=metric.unit, friendly_name=f"{metric.name} ({source.provider})",
            attributes={"source": source.key, "provider": source.provider}))
    return out
