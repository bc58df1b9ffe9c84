"""Where things live in the bucket: date-partitioned day objects, one manifest per day, the run status,
the records of days that failed or are quarantined, and damaged objects kept aside."""

from __future__ import annotations

import datetime as dt
import re

_DAY_DIR = re.compile(r"events/(\d{4})/(\d{2})/(\d{2})/")


def day_dir(prefix: str, day: dt.date) -> str:
    return f"{prefix}events/{day:%Y/%m/%d}/"


def data_key(prefix: str, day: dt.date, sha256: str, extension: str = "ndjson.gz") -> str:
    """Content-addressed, so a rewritten day never overwrites the object its current manifest names."""
    return f"{day_dir(prefix, day)}events-{sha256[:16]}.{extension}"


def manifest_key(prefix: str, day: dt.date) -> str:
    return f"{day_dir(prefix, day)}manifest.json"


def status_key(prefix: str) -> str:
    return f"{prefix}_status/last_run.json"


def troubled_dir(prefix: str) -> str:
    return f"{prefix}_status/days/"


def troubled_key(prefix: str, day: dt.date) -> str:
    """A day that failed: its failures so far, or its quarantine (reason and recovery step)."""
    return f"{troubled_dir(prefix)}{day.isoformat()}.json"


def aside_key(prefix: str, day: dt.date, key: str, when: dt.datetime) -> str:
    """Where an object no manifest can name any more is kept (one that failed verification, or one a repair
    did not choose): outside events/, never deleted by the archive."""
    return f"{prefix}_set_aside/{day:%Y/%m/%d}/{when:%Y%m%dT%H%M%SZ}-{key.rsplit('/', 1)[-1]}"


def is_data(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith("events-")


def day_of(key: str) -> dt.date | None:
    match = _DAY_DIR.search(key)
    return dt.date(int(match[1]), int(match[2]), int(match[3])) if match else None
