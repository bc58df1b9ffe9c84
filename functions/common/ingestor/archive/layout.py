"""Where things live in the bucket: date-partitioned day objects, one manifest per day, the run status."""

from __future__ import annotations

import datetime as dt
import re

_DAY_DIR = re.compile(r"events/(\d{4})/(\d{2})/(\d{2})/")


def day_dir(prefix: str, day: dt.date) -> str:
    return f"{prefix}events/{day:%Y/%m/%d}/"


def data_key(prefix: str, day: dt.date, sha256_gzip: str) -> str:
    """Content-addressed, so a rewritten day never overwrites the object its current manifest names."""
    return f"{day_dir(prefix, day)}events-{sha256_gzip[:16]}.ndjson.gz"


def manifest_key(prefix: str, day: dt.date) -> str:
    return f"{day_dir(prefix, day)}manifest.json"


def status_key(prefix: str) -> str:
    return f"{prefix}_status/last_run.json"


def day_of(key: str) -> dt.date | None:
    match = _DAY_DIR.search(key)
    return dt.date(int(match[1]), int(match[2]), int(match[3])) if match else None
