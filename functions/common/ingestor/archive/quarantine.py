"""Days that failed, kept in the bucket (`<prefix>_status/days/YYYY-MM-DD.json`) so every replica, the CLI and
the health function see the same.

A day is quarantined at once when its archive in the bucket needs a decision (DayProblem: an unreadable
manifest, a damaged object the store cannot replace), or after QUARANTINE_AFTER runs in a row in which it
failed otherwise. A quarantined day is skipped by later runs (the store keeps its rows) until its recovery
action runs; every other day goes on. The record names the reason and the exact step that resolves it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor import jsoncodec
from ingestor.archive import layout
from ingestor.archive.progress import iso
from ingestor.archive.s3 import Bucket

QUARANTINE_AFTER = 3
ACTIONS = {
    "repair": "re-verifies the day's object(s) in the bucket, rewrites the manifest from the one that reads back "
              "whole, then archives and prunes the store's rows of the day as a run would",
    "rebuild": "archives the day again from the rows the store holds (merged with the archived object when it "
               "verifies); an object that fails verification is moved to {prefix}_set_aside/ and kept, never "
               "deleted: rows only it held are not in the new archive",
}


def recovery(day: dt.date, action: str, prefix: str) -> dict[str, str]:
    return {"action": action, "effect": ACTIONS[action].format(prefix=prefix),
            "cli": f"python -m ingestor.archive recover {day.isoformat()} --action {action}",
            "http": f"POST /function/retention-archive/recover?day={day.isoformat()}&action={action}"}


def read_all(bucket: Bucket, prefix: str) -> list[dict[str, Any]]:
    out = []
    for key, _ in bucket.list(layout.troubled_dir(prefix)):
        body = bucket.get(key)
        if body:
            try:
                out.append(jsoncodec.loads(body))
            except jsoncodec.JSONDecodeError:
                continue
    return sorted(out, key=lambda r: str(r.get("day")))


def _read(bucket: Bucket, prefix: str, day: dt.date) -> dict[str, Any] | None:
    body = bucket.get(layout.troubled_key(prefix, day))
    try:
        return jsoncodec.loads(body) if body else None
    except jsoncodec.JSONDecodeError:
        return None


def note(bucket: Bucket, prefix: str, day: dt.date, error: str, store_rows: int,
         problem: str | None = None) -> dict[str, Any]:
    """Record a failure of `day`; quarantine it when `problem` (the recovery action) is given or failures
    reached QUARANTINE_AFTER. Returns the record."""
    now = iso(dt.datetime.now(dt.UTC))
    found = _read(bucket, prefix, day) or {"day": day.isoformat(), "failures": 0, "first_failed_at": now}
    found.update(failures=int(found.get("failures", 0)) + 1, last_failed_at=now, reason=error, store_rows=store_rows)
    action = problem or ("rebuild" if found["failures"] >= QUARANTINE_AFTER else None)
    if action:
        if found.get("state") != "quarantined":
            found["quarantined_at"] = now
        found["state"] = "quarantined"
        found["recovery"] = recovery(day, action, prefix)
        if not problem:
            found["reason"] = f"failed in {found['failures']} runs in a row; last: {error}"
    else:
        found["state"] = "failing"
    bucket.put(layout.troubled_key(prefix, day), jsoncodec.dumps(found), "application/json")
    return found


def clear(bucket: Bucket, prefix: str, day: dt.date) -> None:
    if bucket.head(layout.troubled_key(prefix, day)) is not None:
        bucket.delete(layout.troubled_key(prefix, day))


def quarantined(records: list[dict[str, Any]]) -> set[str]:
    return {str(r["day"]) for r in records if r.get("state") == "quarantined"}
