"""The S3 (or MinIO, SeaweedFS) bucket through boto3: a few object calls, every failure an ArchiveError whose
message says what to check (credentials, the endpoint, the bucket), never a bare status code.

Checksums are ours (sha256 in the manifest and as object metadata), so boto3's optional CRC checksums,
which several S3-compatible servers do not accept, are only sent where S3 requires them. Large objects go
up as multipart uploads from a staged file and come down in chunks: memory never holds an object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from ingestor.archive.errors import ArchiveError
from ingestor.archive.settings import Settings

CHUNK = 1024 * 1024
_MISSING = ("404", "NoSuchKey", "NotFound")
_DENIED = ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden")


def _forget_endpoint_table(session: botocore.session.Session) -> None:
    """botocore decodes its table of every AWS service's endpoints in every region (endpoints.json, ~7 MB of
    Python objects) to create a client, and its session and the client's event handlers keep it for good
    although only creating a client and presigning read it; an archive run holds its client for hours while
    it archives days of a million events. Emptied in place once the client exists (the endpoint and region
    are resolved by then; the S3 model and endpoint rules a request uses are kept). A botocore without these
    internals is left alone."""
    try:
        resolver = session._get_internal_component("endpoint_resolver")
        if isinstance(resolver._endpoint_data, dict):
            resolver._endpoint_data = {"partitions": []}
        session.get_component("data_loader")._cache.pop(("load_data_with_path", "endpoints"), None)
    except (AttributeError, ValueError, TypeError):
        pass


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Bucket:
    def __init__(self, settings: Settings) -> None:
        self.name = settings.bucket
        self.settings = settings
        session = botocore.session.get_session()
        self.client = boto3.session.Session(botocore_session=session).client(
            "s3", endpoint_url=settings.endpoint, region_name=settings.region,
            aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key,
            config=Config(connect_timeout=settings.connect_timeout_s, read_timeout=settings.read_timeout_s,
                          retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
                          s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))
        _forget_endpoint_table(session)
        part = settings.part_size_mb * 1024 * 1024
        self.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=2,
                                       io_chunksize=256 * 1024)
        self._ready = False

    def _fail(self, what: str, exc: Exception) -> ArchiveError:
        """One message a user can act on, naming the setting or secret to check."""
        where = self.settings.endpoint or f"AWS S3 ({self.settings.region})"
        if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError | BotoCoreError):
            exc = exc.__context__
        if isinstance(exc, ClientError):
            code = _code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _DENIED or status == 403:
                return ArchiveError(f"S3 {what} refused ({status} {code}): check the credentials (secrets "
                                    f"s3-access-key, s3-secret-key) and their permissions on bucket {self.name}")
            if code == "NoSuchBucket":
                return ArchiveError(f"S3 {what} failed: bucket {self.name} does not exist at {where}")
            return ArchiveError(f"S3 {what} failed: {status} {code}".rstrip())
        if isinstance(exc, ConnectionError | ConnectionClosedError):
            return ArchiveError(f"S3 {what} failed: cannot reach {where} (ARCHIVE_S3_ENDPOINT) after "
                                f"{self.settings.max_attempts} attempt(s) ({type(exc).__name__})")
        if isinstance(exc, ReadTimeoutError):
            return ArchiveError(f"S3 {what} failed: no answer from {where} within ARCHIVE_S3_READ_TIMEOUT_S="
                                f"{self.settings.read_timeout_s:g} s, {self.settings.max_attempts} attempt(s)")
        if isinstance(exc, NoCredentialsError):
            return ArchiveError(f"S3 {what} failed: no credentials (secrets s3-access-key, s3-secret-key)")
        return ArchiveError(f"S3 {what} failed: {type(exc).__name__}")

    def ensure(self) -> None:
        """The bucket exists (created when missing and ARCHIVE_S3_CREATE_BUCKET allows it)."""
        if self._ready:
            return
        try:
            self.client.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._fail(f"access to bucket {self.name}", exc) from None
            if not self.settings.create_bucket:
                raise ArchiveError(f"bucket {self.name} does not exist and ARCHIVE_S3_CREATE_BUCKET=false: "
                                   "create it, or allow the archive to") from None
            try:
                self.client.create_bucket(Bucket=self.name)
            except ClientError as again:
                if _code(again) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise self._fail(f"create bucket {self.name}", again) from None
            except BotoCoreError as again:
                raise self._fail(f"create bucket {self.name}", again) from None
        except BotoCoreError as exc:
            raise self._fail(f"access to bucket {self.name}", exc) from None
        self._ready = True

    def reachable(self) -> str | None:
        """Why the bucket cannot be used right now, or None: asked after a day failed, to tell a bad day
        from an unreachable S3 (which would fail every later day too)."""
        try:
            self.client.head_bucket(Bucket=self.name)
        except (BotoCoreError, ClientError) as exc:
            return str(self._fail(f"access to bucket {self.name}", exc))
        return None

    def put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        try:
            self.client.put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type,
                                   Metadata=metadata or {})
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"upload of {key}", exc) from None

    def upload_file(self, path: str, key: str, content_type: str, metadata: dict[str, str]) -> None:
        """A staged file, as one PUT or (from ARCHIVE_S3_PART_SIZE_MB on) a multipart upload, part by part."""
        try:
            self.client.upload_file(path, self.name, key, Config=self.transfer,
                                    ExtraArgs={"ContentType": content_type, "Metadata": metadata})
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise self._fail(f"upload of {key}", exc) from None

    def head(self, key: str) -> dict[str, Any] | None:
        """{size, metadata} of an object, or None when there is none."""
        try:
            found = self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._fail(f"HEAD {key}", exc) from None
        except BotoCoreError as exc:
            raise self._fail(f"HEAD {key}", exc) from None
        return {"size": int(found["ContentLength"]), "metadata": found.get("Metadata") or {}}

    def get(self, key: str) -> bytes | None:
        """A small object (manifest, status) whole, or None when there is none."""
        chunks: list[bytes] = []
        return b"".join(chunks) if self.download(key, chunks.append) is not None else None

    def download(self, key: str, sink: Callable[[bytes], Any]) -> int | None:
        """The object's bytes to `sink`, chunk by chunk; its size, or None when there is none."""
        try:
            body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
            size = 0
            for chunk in body.iter_chunks(CHUNK):
                sink(chunk)
                size += len(chunk)
            return size
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._fail(f"download of {key}", exc) from None
        except BotoCoreError as exc:
            raise self._fail(f"download of {key}", exc) from None

    def copy(self, source: str, target: str) -> None:
        """Server-side copy (multipart for large objects); nothing passes through this process."""
        try:
            self.client.copy({"Bucket": self.name, "Key": source}, self.name, target, Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"copy of {source}", exc) from None

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

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        """{key, size, modified} of every object under `prefix`, newest first."""
        try:
            found = [{"key": item["Key"], "size": int(item["Size"]), "modified": item["LastModified"]}
                     for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
                     for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"listing of {prefix}", exc) from None
        return sorted(found, key=lambda o: o["modified"], reverse=True)

    def move(self, source: str, target: str) -> None:
        self.copy(source, target)
        self.delete(source)

    def abort_uploads(self, prefix: str) -> int:
        """Abort multipart uploads under `prefix` left by a process that died mid-upload; how many."""
        try:
            found = self.client.list_multipart_uploads(Bucket=self.name, Prefix=prefix).get("Uploads", [])
            for upload in found:
                self.client.abort_multipart_upload(Bucket=self.name, Key=upload["Key"], UploadId=upload["UploadId"])
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"cleanup of unfinished uploads under {prefix}", exc) from None
        return len(found)
