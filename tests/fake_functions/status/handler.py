"""Test function: answers the status the message asks for and logs each attempt to ATTEMPTS_FILE.

Body: {"id": str, "status": int, "succeed_after": int (optional), "hang_attempts": int, "hang_s": float
(optional)}: answers `status` for the first `succeed_after` attempts of that id, then 200; the first
`hang_attempts` attempts first sleep `hang_s` seconds (a hung call). Lets tests drive every branch of the
topic connector and the runtime's supervision.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ingestor import jsoncodec
from ingestor.responses import error_response, json_response


def handle(event: Any, context: Any) -> dict[str, Any]:
    doc = jsoncodec.loads(event.body)
    path = os.environ["ATTEMPTS_FILE"]
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{doc['id']}\n")
    with open(path, encoding="utf-8") as f:
        attempts = sum(1 for line in f if line.strip() == doc["id"])
    if attempts <= int(doc.get("hang_attempts", 0)):
        time.sleep(float(doc["hang_s"]))
    status = int(doc["status"])
    if "succeed_after" in doc and attempts > int(doc["succeed_after"]):
        status = 200
    if status >= 400:
        return error_response(status, "asked_for", f"status {status} as asked by {doc['id']}")
    return json_response({"id": doc["id"]}, status)
