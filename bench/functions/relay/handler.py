"""bench/hop_costs.py's stage that only hands on: publishes the batch it was sent, unchanged, on ha.events.valid
(acknowledged by JetStream, as every stage's output), so its process spends the template's cost and one
publish."""

from __future__ import annotations

import re
from typing import Any

from ingestor import bus, subjects

BATCH_ID = re.compile(rb'"batch_id":"([^"]+)"')


def handle(event: Any, context: Any) -> dict[str, Any]:
    found = BATCH_ID.search(event.body[:300])
    if found is None:
        return {"statusCode": 400, "body": {"error": {"code": "no_batch_id", "message": "no batch_id"}}}
    bus.default().publish(subjects.VALID, event.body, found.group(1).decode() + ":relay")
    return {"statusCode": 200, "body": {"published": True}}
