"""A fetched context value as event records, one series per metric (entity `context.<source>_<metric>`),
so the dashboard can chart outdoor temperature beside indoor sensors."""

from __future__ import annotations

import hashlib
from typing import Any

from ingestor.context.model import Source

EVENT_TYPE = "context_sample"


def records(source: Source, values: dict[str, Any], fetched_at: str) -> list[dict[str, Any]]:
    out = []
    for metric in source.metrics:
        value = values.get(metric.key)
        if not isinstance(value, int | float):
            continue
        entity = f"context.{source.key}_{metric.key}"
        out.append({
            "event_id": hashlib.blake2b(f"{entity}|{fetched_at}".encode(), digest_size=16).hexdigest(),
            "event_type": EVENT_TYPE, "time_fired": fetched_at, "origin": "LOCAL", "entity_id": entity,
            "domain": "context", "state": str(value), "old_state": None, "state_value": float(value),
            "unit": metric.unit, "device_class": None, "friendly_name": f"{metric.name} ({source.provider})",
            "attributes": {"source": source.key, "provider": source.provider}, "duration_in_state": None,
            "context": {"id": None, "parent_id": None, "user_id": None}, "device_id": None, "area_id": None,
            "device_manufacturer": None, "device_model": None, "weather": None, "data": None,
        })
    return out
