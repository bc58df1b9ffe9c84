"""Test function: handles each batch of a call as alone (ingestor.envelope.each, as the stages do), as its first
event asks, and logs each batch it handles to HANDLED_FILE: one JSON line {"batch", "call", "coalesced"}.

A batch's first event may ask {"hold_s": s} (sleep first: the test's backlog builds meanwhile), {"refuse": true}
(Refused: 422 with a reason naming the batch) or {"unavailable": n} (503 for its first n handlings). Lets tests
see which messages the topic connector coalesces and drive each of its fallbacks.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

from ingestor import envelope, jsoncodec
from ingestor.errors import Refused, Unavailable
from ingestor.responses import json_response

_lock = threading.Lock()


def handled(batch_id: str, call: str, coalesced: bool) -> int:
    """Log the batch; how many times it was handled, this time included."""
    path = os.environ["HANDLED_FILE"]
    with _lock:
        with open(path, "ab") as f:
            f.write(jsoncodec.dumps({"batch": batch_id, "call": call, "coalesced": coalesced}) + b"\n")
        with open(path, "rb") as f:
            return sum(1 for line in f if jsoncodec.loads(line)["batch"] == batch_id)


def handle(event: Any, context: Any) -> dict[str, Any]:
    call, coalesced = uuid.uuid4().hex, envelope.COALESCED_HEADER in event.headers

    def one(batch: envelope.Batch) -> dict[str, Any]:
        times = handled(batch.batch_id, call, coalesced)
        asks = batch.events[0] if isinstance(batch.events[0], dict) else {}
        time.sleep(float(asks.get("hold_s", 0)))
        if asks.get("refuse"):
            raise Refused(f"batch {batch.batch_id} refused as asked", code="asked_for")
        if times <= int(asks.get("unavailable", 0)):
            raise Unavailable(f"batch {batch.batch_id} unavailable as asked", code="asked_for")
        return {"batch_id": batch.batch_id}

    return json_response(envelope.each(event.body, event.headers, one))
