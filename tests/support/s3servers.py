"""The S3 servers the archive tests run against, behind one interface: each is started on 127.0.0.1 with free
ports, answers path-style S3 at `endpoint` with `access_key`/`secret_key`, and is stopped by `cleanup()`.

Every test that takes the `s3server` fixture runs once per entry of S3_SERVERS: SeaweedFS, and MinIO (the
server deployments run; built by `make tools`, skipped with the reason when it is not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tests.support import minio
from tests.support.minio import MinIO
from tests.support.seaweedfs import SeaweedFS


class S3Server(Protocol):
    port: int
    access_key: str
    secret_key: str

    @property
    def endpoint(self) -> str: ...

    def start(self) -> S3Server: ...

    def cleanup(self) -> None: ...


S3_SERVERS: dict[str, Callable[[], S3Server]] = {"minio": MinIO, "seaweedfs": SeaweedFS}


def unavailable(kind: str) -> str | None:
    """Why the server `kind` cannot run here, if it cannot."""
    return minio.unavailable() if kind == "minio" else None
