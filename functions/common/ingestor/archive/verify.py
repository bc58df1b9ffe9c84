"""Is an archived object what its manifest says? HEAD (exists, size, checksum metadata), then a streaming
re-download: its sha256 and size must be the manifest's. `fetch` keeps the bytes in a staged file for
decoding (restore, merging late events); the content (rows, sha256 of the records) is checked as they are
read (dayfile.read)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any, BinaryIO

from ingestor.archive.errors import VerificationError
from ingestor.archive.s3 import Bucket


def _download(bucket: Bucket, expected: dict[str, Any], sink: Callable[[bytes], Any]) -> None:
    key = expected["object"]
    head = bucket.head(key)
    if head is None:
        raise VerificationError(f"{key}: missing")
    if head["size"] != expected["bytes"]:
        raise VerificationError(f"{key}: {head['size']} bytes, expected {expected['bytes']}")
    if head["metadata"].get("sha256") not in (None, expected["sha256"]):
        raise VerificationError(f"{key}: sha256 metadata differs from the manifest")
    sha = hashlib.sha256()

    def take(chunk: bytes) -> None:
        sha.update(chunk)
        sink(chunk)

    size = bucket.download(key, take)
    if size is None:
        raise VerificationError(f"{key}: vanished during verification")
    if size != expected["bytes"] or sha.hexdigest() != expected["sha256"]:
        raise VerificationError(f"{key}: sha256 of the stored bytes differs from what was uploaded")


def verify_stored(bucket: Bucket, expected: dict[str, Any]) -> None:
    """The stored bytes are the manifest's (nothing is kept: a freshly uploaded object's content was
    checked on the staged file it was uploaded from)."""
    _download(bucket, expected, lambda chunk: None)


def fetch(bucket: Bucket, expected: dict[str, Any], directory: str) -> str:
    """The object, verified byte for byte, in a staged file under `directory`; its path."""
    path = os.path.join(directory, "fetched-" + os.path.basename(expected["object"]))
    file: BinaryIO
    with open(path, "wb") as file:
        _download(bucket, expected, file.write)
    return path
