"""A day as gzip NDJSON: one record per line exactly as the store returned it (key order kept), readable with
`zcat | jq` or DuckDB's read_json. gzip is written with mtime 0, so the same records give the same bytes."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from ingestor import jsoncodec
from ingestor.archive.digest import Digest
from ingestor.archive.errors import ArchiveError, VerificationError

NAME = "ndjson+gzip"
EXTENSION = "ndjson.gz"
CONTENT_TYPE = "application/gzip"
LEVEL = 6


class Writer:
    def __init__(self, file: BinaryIO) -> None:
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=file, compresslevel=LEVEL, mtime=0)

    def write(self, records: list[dict[str, Any]], lines: list[bytes]) -> None:
        self._gzip.write(b"".join(lines))

    def close(self) -> None:
        self._gzip.close()


def read(path: str, batch: int, digest: Digest) -> Iterator[list[dict[str, Any]]]:
    """Records in lists of `batch`; each line goes into `digest` as stored."""
    out: list[dict[str, Any]] = []
    try:
        with gzip.open(path, "rb") as file:
            for text in file:
                record = jsoncodec.loads(text)
                digest.add(record, text)
                out.append(record)
                if len(out) >= batch:
                    yield out
                    out = []
    except (ArchiveError, OSError, EOFError, zlib.error, jsoncodec.JSONDecodeError, KeyError, TypeError) as exc:
        raise VerificationError(f"unreadable gzip NDJSON ({type(exc).__name__}: {exc})") from None
    if out:
        yield out
