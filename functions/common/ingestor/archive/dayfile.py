"""A day of events as one gzip NDJSON object, and its manifest.

Each line is one event record exactly as the store's export returns it (orjson, keys sorted), in
(time_fired, event_id) order. Two sha256 checksums: `sha256_gzip` over the compressed bytes (what is
stored: the upload is verified against it) and `sha256_ndjson` over the uncompressed NDJSON (the content,
independent of compression). gzip is written with mtime 0, so the same events give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ingestor import jsoncodec

FORMAT = "ndjson+gzip"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class DayFile:
    day: dt.date
    body: bytes  # gzip
    rows: int
    sha256_gzip: str
    sha256_ndjson: str
    time_min: str | None
    time_max: str | None


def sort_key(record: dict[str, Any]) -> tuple[str, str]:
    return record["time_fired"], record["event_id"]


def encode(day: dt.date, records: Iterable[dict[str, Any]], level: int = 6) -> DayFile:
    """Records (already sorted) as gzip NDJSON with both checksums."""
    raw = hashlib.sha256()
    lines: list[bytes] = []
    first = last = None
    rows = 0
    for record in records:
        line = jsoncodec.dumps(record, sort_keys=True) + b"\n"
        raw.update(line)
        lines.append(line)
        rows += 1
        first = first or record["time_fired"]
        last = record["time_fired"]
    body = gzip.compress(b"".join(lines), compresslevel=level, mtime=0)
    return DayFile(day, body, rows, hashlib.sha256(body).hexdigest(), raw.hexdigest(), first, last)


def decode(body: bytes) -> list[dict[str, Any]]:
    return [jsoncodec.loads(line) for line in gzip.decompress(body).splitlines() if line]


def manifest(file: DayFile, key: str, store_backend: str) -> dict[str, Any]:
    return {"v": MANIFEST_VERSION, "day": file.day.isoformat(), "object": key, "format": FORMAT,
            "sort": ["time_fired", "event_id"], "rows": file.rows, "bytes": len(file.body),
            "sha256_gzip": file.sha256_gzip, "sha256_ndjson": file.sha256_ndjson,
            "time_min": file.time_min, "time_max": file.time_max, "store": store_backend,
            "archived_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
