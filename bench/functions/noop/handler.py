"""bench/hop_costs.py's stage with no work: answers without reading what it was sent, so what its process spends
on a call is the template's (HTTP, the signature check, the answer)."""

from __future__ import annotations

from typing import Any


def handle(event: Any, context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": {"bytes": len(event.body)}}
