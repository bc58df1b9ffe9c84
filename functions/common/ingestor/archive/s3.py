"""The S3 (or MinIO, SeaweedFS) bucket through boto3: a few object calls, every failure an ArchiveError.

Checksums are ours (sha256 in the manifest and as object metadata), so boto3's optional CRC checksums,
which several S3-compatible servers do not accept, are only sent where S3 requires them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ingestor.archive.errors import ArchiveError
from ingestor.archive.settings import Settings


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Bucket:
    def __init__(self, settings: Settings) -> None:
        self.name = settings.bucket
        self.settings = settings
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=settings.endpoint, region_name=settings.region,
            aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key,
            config=Config(connect_timeout=settings.connect_timeout_s, read_timeout=settings.read_timeout_s,
                          retries={"max_attempts": settings.max_attempts, "mode": "standard"},
                          s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))
        self._ready = False

    def _fail(self, what: str, exc: Exception) -> ArchiveError:
        detail = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return ArchiveError(f"S3 {what} failed: {detail}")

    def ensure(self) -> None:
        """The bucket exists (created when missing and ARCHIVE_S3_CREATE_BUCKET allows it)."""
        if self._ready:
            return
        try:
            self.client.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound") or not self.settings.create_bucket:
                raise self._fail(f"bucket {self.name}", exc) from None
            try:
                self.client.create_bucket(Bucket=self.name)
            except ClientError as again:
                if _code(again) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise self._fail(f"create bucket {self.name}", again) from None
            except BotoCoreError as again:
                raise self._fail(f"create bucket {self.name}", again) from None
        except BotoCoreError as exc:
            raise self._fail(f"bucket {self.name}", exc) from None
        self._ready = True

    def put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None,
            encoding: str | None = None) -> None:
        extra: dict[str, Any] = {"ContentType": content_type, "Metadata": metadata or {}}
        if encoding:
            extra["ContentEncoding"] = encoding
        try:
            self.client.put_object(Bucket=self.name, Key=key, Body=body, **extra)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"upload of {key}", exc) from None

    def head(self, key: str) -> dict[str, Any] | None:
        """{size, metadata} of an object, or None when there is none."""
        try:
            found = self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail(f"HEAD {key}", exc) from None
        except BotoCoreError as exc:
            raise self._fail(f"HEAD {key}", exc) from None
        return {"size": int(found["ContentLength"]), "metadata": found.get("Metadata") or {}}

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail(f"download of {key}", exc) from None
        except BotoCoreError as exc:
            raise self._fail(f"download of {key}", exc) from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.name, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"delete of {key}", exc) from None

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix`."""
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"], int(item["Size"])
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"listing of {prefix}", exc) from None
