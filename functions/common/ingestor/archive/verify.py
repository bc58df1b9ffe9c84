"""Is an archived day what its manifest says? HEAD (exists, size, checksum metadata), then a full
re-download: sha256 of the compressed bytes, sha256 of the NDJSON, row count, every line parses."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from typing import Any

from ingestor import jsoncodec
from ingestor.archive.errors import VerificationError
from ingestor.archive.s3 import Bucket


def verify(bucket: Bucket, expected: dict[str, Any]) -> list[dict[str, Any]]:
    """The archived records when the object matches `expected` (a manifest); VerificationError otherwise."""
    key = expected["object"]
    head = bucket.head(key)
    if head is None:
        raise VerificationError(f"{key}: missing")
    if head["size"] != expected["bytes"]:
        raise VerificationError(f"{key}: {head['size']} bytes, expected {expected['bytes']}")
    if head["metadata"].get("sha256") not in (None, expected["sha256_gzip"]):
        raise VerificationError(f"{key}: sha256 metadata differs from the manifest")
    body = bucket.get(key)
    if body is None:
        raise VerificationError(f"{key}: vanished during verification")
    if len(body) != expected["bytes"] or hashlib.sha256(body).hexdigest() != expected["sha256_gzip"]:
        raise VerificationError(f"{key}: sha256 of the stored bytes differs from what was uploaded")
    try:
        ndjson = gzip.decompress(body)
        records = [jsoncodec.loads(line) for line in ndjson.splitlines() if line]
    except (OSError, EOFError, zlib.error, jsoncodec.JSONDecodeError) as exc:
        raise VerificationError(f"{key}: unreadable ({type(exc).__name__})") from None
    if hashlib.sha256(ndjson).hexdigest() != expected["sha256_ndjson"]:
        raise VerificationError(f"{key}: sha256 of the NDJSON differs from the manifest")
    if len(records) != expected["rows"]:
        raise VerificationError(f"{key}: {len(records)} rows, the manifest says {expected['rows']}")
    return records
