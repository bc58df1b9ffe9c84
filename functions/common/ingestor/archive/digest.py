"""What a day's archive holds, independent of its format: rows, first/last time, and sha256 over the records
as NDJSON lines (each record exactly as the store returned it, key order kept, one per line).

The writer takes it over the records it is given; a reader takes it again over what it decodes, so a day
that comes back different in any byte, order or count is caught. Records must come strictly ordered by
(time_fired, event_id): a repeated or out-of-order record means a broken export or archive.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ingestor import jsoncodec
from ingestor.archive.errors import ArchiveError


def line(record: dict[str, Any]) -> bytes:
    return jsoncodec.dumps(record) + b"\n"


class Digest:
    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.rows = 0
        self.time_min: str | None = None
        self.time_max: str | None = None
        self._last: tuple[str, str] | None = None

    def add(self, record: dict[str, Any], text: bytes) -> None:
        key = (record["time_fired"], record["event_id"])
        if self._last is not None and key <= self._last:
            raise ArchiveError(f"records out of order or repeated at {key[0]} {key[1]} (after {self._last[1]})")
        self._last = key
        self._sha.update(text)
        self.rows += 1
        self.time_min = self.time_min or key[0]
        self.time_max = key[0]

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()
