"""A day's object, staged on local disk while it is written and read, and its manifest.

Formats: gzip NDJSON (archive.ndjson) and Parquet (archive.parquet), chosen by ARCHIVE_FORMAT for new objects;
the manifest names the format of each, so restore reads both. Memory holds one batch of records at a time,
the disk one object. Two sha256 in the manifest: `sha256` over the stored bytes (the upload is verified
against it) and `sha256_ndjson` over the records as NDJSON lines (the content, whatever the format; see
archive.digest). Manifest version 1 (gzip NDJSON only, `sha256_gzip`) is still read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ingestor.archive import ndjson, parquet
from ingestor.archive.digest import Digest, line
from ingestor.archive.errors import VerificationError

MANIFEST_VERSION = 2
CHECK_BATCH = 1_000  # records decoded at a time by finish()'s check, which keeps none (5,000 before: the
# Parquet archive run of a 100,000-event day peaked ~10 MB higher in that check)
CODECS: dict[str, ModuleType] = {"ndjson": ndjson, "parquet": parquet}
BY_NAME: dict[str, ModuleType] = {ndjson.NAME: ndjson, parquet.NAME: parquet}


@dataclass(frozen=True)
class DayFile:
    day: dt.date
    codec: ModuleType
    path: str
    bytes: int
    sha256: str
    sha256_ndjson: str
    rows: int
    time_min: str | None
    time_max: str | None


def file_sha256(path: str) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def staging(directory: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="ha-archive-", dir=directory)


class DayWriter:
    """Records in, strictly ordered, batch by batch; `finish` returns the staged file, checked."""

    def __init__(self, day: dt.date, fmt: str, directory: str) -> None:
        self.day = day
        self.codec = CODECS[fmt]
        self.path = os.path.join(directory, f"{day.isoformat()}.{self.codec.EXTENSION}")
        self.digest = Digest()
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in finish()
        self._writer = self.codec.Writer(self._file)

    def add(self, records: list[dict[str, Any]]) -> None:
        lines = [line(r) for r in records]
        for record, text in zip(records, lines, strict=True):
            self.digest.add(record, text)
        self._writer.write(records, lines)

    def finish(self, batch: int) -> DayFile:
        """Close the file, then decode it whole: a format that does not give back every record exactly fails
        here, before anything is uploaded."""
        self._writer.close()
        self._file.close()
        sha, size = file_sha256(self.path)
        again = Digest()
        for _ in self.codec.read(self.path, min(batch, CHECK_BATCH), again):
            pass
        if (again.rows, again.sha256) != (self.digest.rows, self.digest.sha256):
            what = "different content" if again.rows == self.digest.rows else f"{again.rows} rows"
            raise VerificationError(f"the {self.codec.NAME} file does not give back the {self.digest.rows} records "
                                    f"written ({what}); archive this day with ARCHIVE_FORMAT=ndjson")
        return DayFile(self.day, self.codec, self.path, size, sha, self.digest.sha256, self.digest.rows,
                       self.digest.time_min, self.digest.time_max)

    def discard(self) -> None:
        self._file.close()


def read(path: str, manifest: dict[str, Any], batch: int) -> Iterator[list[dict[str, Any]]]:
    """A fetched object's records in lists of `batch`; VerificationError at the end when the content is not
    what the manifest says (rows, sha256_ndjson)."""
    digest = Digest()
    yield from codec_of(manifest).read(path, batch, digest)
    if digest.rows != manifest["rows"]:
        raise VerificationError(f"{manifest['object']}: {digest.rows} rows, the manifest says {manifest['rows']}")
    if digest.sha256 != manifest["sha256_ndjson"]:
        raise VerificationError(f"{manifest['object']}: sha256 of the content differs from the manifest")


def codec_of(manifest: dict[str, Any]) -> ModuleType:
    try:
        return BY_NAME[manifest["format"]]
    except KeyError:
        raise VerificationError(f"{manifest.get('object')}: unknown format {manifest.get('format')!r}") from None


def manifest(file: DayFile, key: str, store_backend: str) -> dict[str, Any]:
    return {"v": MANIFEST_VERSION, "day": file.day.isoformat(), "object": key, "format": file.codec.NAME,
            "sort": ["time_fired", "event_id"], "rows": file.rows, "bytes": file.bytes,
            "sha256": file.sha256, "sha256_ndjson": file.sha256_ndjson,
            "time_min": file.time_min, "time_max": file.time_max, "store": store_backend,
            "archived_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}


def upgrade(found: Any) -> dict[str, Any]:
    """A manifest as this version reads it (v1 named the stored bytes' sha256 `sha256_gzip`); ValueError if
    it is not one."""
    if not isinstance(found, dict) or found.get("v") not in (1, MANIFEST_VERSION):
        raise ValueError("unknown manifest version")
    if found["v"] == 1:
        found = {**found, "sha256": found["sha256_gzip"], "format": ndjson.NAME}
    for name, kind in (("object", str), ("rows", int), ("bytes", int), ("sha256", str), ("sha256_ndjson", str)):
        if not isinstance(found.get(name), kind):
            raise ValueError(f"manifest field {name} missing or not a {kind.__name__}")
    return found
