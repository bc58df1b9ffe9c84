"""The archive's configuration, from environment variables and secrets (never logged or returned).

Read and checked once, at start: every bad value is a ConfigError naming its setting. The archive is on
only when both ARCHIVE_S3_ENDPOINT and ARCHIVE_S3_BUCKET are set; one without the other is an error
(a half-configured archive is a mistake, never a guess at AWS or at a default bucket).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit

from croniter import croniter

from ingestor import config

FORMATS = ("ndjson", "parquet")
EXPORT_BATCH = 1_000
"""ARCHIVE_EXPORT_BATCH's default: the records an archive run holds at once (the export's windows hold about as
many, sqlread.WINDOW_EVENTS), and restore's batches into the store. 5,000, then 2,500 before: at 100,000 events a
day the Parquet archive run peaked 8 MB and its restore 16 MB higher at 5,000 than at 2,500, and 7 and 8 MB
higher at 2,500 than at 1,000 (records of ~4 KB each); restore takes ~30% longer in batches of 2,500 than of
5,000 and up to ~50% longer again in batches of 1,000 (each write also compacts for up to 0.25 s)."""
STORE_WRITE_CACHE_KIB = 2_000
"""SQLite's page cache for the archive's writing connection (its delete of a day, restore's writes): SQLite's
own default, not the 64 MB `write` keeps (sqlengine.WRITE_CACHE_KIB), which a restore of a day fills and keeps
(measured at 100,000 events: the NDJSON restore peaks at 150 MB with it, 126 without)."""
MIN_PART_MB = 5  # S3's smallest multipart part (all but the last)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")


@dataclass(frozen=True)
class Settings:
    endpoint: str | None
    bucket: str
    region: str
    prefix: str  # prepended to every key, e.g. "home/" -> home/events/2025/01/31/manifest.json
    raw_retention_days: int
    summary_retention_days: int
    schedule: str  # the cron expression stack.yml runs the function on (shown as "next run")
    create_bucket: bool
    max_attempts: int  # attempts per S3 request, the first included
    connect_timeout_s: float
    read_timeout_s: float
    export_batch: int
    max_days_per_run: int  # bounds a run's length (a first run may face years of backlog); the next run goes on
    access_key: str | None
    secret_key: str | None
    enabled: bool = True  # ARCHIVE_S3_ENDPOINT and ARCHIVE_S3_BUCKET both set
    format: str = "ndjson"  # what new day objects are written as; restore reads both
    part_size_mb: int = 16  # multipart upload part size
    lease_s: float = 60.0  # how long the run lock outlives its holder's last heartbeat
    tmp_dir: str = ""  # where a day's object is staged (its size on disk); "" = the system's temp dir

    def describe(self) -> dict[str, object]:
        """What status shows: everything but the credentials."""
        return {"enabled": self.enabled, "endpoint": self.endpoint, "bucket": self.bucket, "region": self.region,
                "prefix": self.prefix, "format": self.format,
                "raw_retention_days": self.raw_retention_days,
                "summary_retention_days": self.summary_retention_days, "schedule": self.schedule,
                "max_days_per_run": self.max_days_per_run, "export_batch": self.export_batch,
                "max_attempts": self.max_attempts, "part_size_mb": self.part_size_mb,
                "credentials": "configured" if self.access_key and self.secret_key else "default chain"}

    @property
    def staging_dir(self) -> str:
        return self.tmp_dir or tempfile.gettempdir()


def _int(name: str, default: int, low: int, high: int | None = None) -> int:
    value = config.env_int(name, default)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise config.ConfigError(f"{name} must be {bounds}, got {value}")
    return value


def _seconds(name: str, default: float, low: float) -> float:
    value = config.env_float(name, default)
    if not value >= low:  # also refuses NaN
        raise config.ConfigError(f"{name} must be at least {low} seconds, got {value}")
    return value


def _endpoint() -> str | None:
    raw = config.env_str("ARCHIVE_S3_ENDPOINT")
    if raw is None:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise config.ConfigError(f"ARCHIVE_S3_ENDPOINT must be a URL like http://minio:9000 or "
                                 f"https://s3.eu-central-1.amazonaws.com, got {raw!r}")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise config.ConfigError(f"ARCHIVE_S3_ENDPOINT must be scheme://host[:port] only (no path, query or "
                                 f"credentials), got {raw!r}")
    return f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}"


def load() -> Settings:
    raw = _int("RAW_RETENTION_DAYS", 365, 1)
    summary = _int("SUMMARY_RETENTION_DAYS", 1825, 1)
    if summary < raw:
        raise config.ConfigError(f"SUMMARY_RETENTION_DAYS ({summary}) must be at least RAW_RETENTION_DAYS ({raw})")
    endpoint = _endpoint()
    bucket = config.env_str("ARCHIVE_S3_BUCKET")
    if bool(endpoint) != bool(bucket):
        missing, given = ("ARCHIVE_S3_BUCKET", "ARCHIVE_S3_ENDPOINT") if endpoint else ("ARCHIVE_S3_ENDPOINT",
                                                                                        "ARCHIVE_S3_BUCKET")
        raise config.ConfigError(f"{missing} is empty while {given} is set: set both to archive, neither to keep "
                                 "every event in the store")
    if bucket and not _BUCKET.match(bucket) or ".." in (bucket or ""):
        raise config.ConfigError(f"ARCHIVE_S3_BUCKET must be an S3 bucket name (3-63 lowercase letters, digits, "
                                 f"dots, hyphens), got {bucket!r}")
    prefix = config.env_str("ARCHIVE_PREFIX", "") or ""
    if not _PREFIX.match(prefix) or prefix.startswith("/") or "//" in prefix:
        raise config.ConfigError(f"ARCHIVE_PREFIX must be a key prefix of letters, digits and !_.*'()/- "
                                 f"(no leading or double slash), got {prefix!r}")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    schedule = config.env_str("ARCHIVE_SCHEDULE", "17 3 * * *") or "17 3 * * *"
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise config.ConfigError(f"ARCHIVE_SCHEDULE must be a 5-field cron expression, got {schedule!r}")
    fmt = (config.env_str("ARCHIVE_FORMAT", "ndjson") or "ndjson").lower()
    if fmt not in FORMATS:
        raise config.ConfigError(f"ARCHIVE_FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    access = config.secret("s3-access-key", "ARCHIVE_S3_ACCESS_KEY")
    secret = config.secret("s3-secret-key", "ARCHIVE_S3_SECRET_KEY")
    if bool(access) != bool(secret):
        missing = "s3-secret-key (or ARCHIVE_S3_SECRET_KEY)" if access else "s3-access-key (or ARCHIVE_S3_ACCESS_KEY)"
        raise config.ConfigError(f"the secret {missing} is missing while its partner is set")
    return Settings(
        endpoint=endpoint,
        bucket=bucket or "",
        region=config.env_str("ARCHIVE_S3_REGION", "us-east-1") or "us-east-1",
        prefix=prefix,
        raw_retention_days=raw,
        summary_retention_days=summary,
        schedule=schedule,
        create_bucket=config.env_bool("ARCHIVE_S3_CREATE_BUCKET", True),
        max_attempts=_int("ARCHIVE_S3_MAX_ATTEMPTS", 3, 1, 20),
        connect_timeout_s=_seconds("ARCHIVE_S3_CONNECT_TIMEOUT_S", 5.0, 0.1),
        read_timeout_s=_seconds("ARCHIVE_S3_READ_TIMEOUT_S", 60.0, 1.0),
        export_batch=_int("ARCHIVE_EXPORT_BATCH", EXPORT_BATCH, 1, 100_000),
        max_days_per_run=_int("ARCHIVE_MAX_DAYS_PER_RUN", 62, 1),
        access_key=access,
        secret_key=secret,
        enabled=bool(endpoint and bucket),
        format=fmt,
        part_size_mb=_int("ARCHIVE_S3_PART_SIZE_MB", 16, MIN_PART_MB, 5120),
        lease_s=_seconds("ARCHIVE_LEASE_S", 60.0, 2.0),
        tmp_dir=config.env_str("ARCHIVE_TMP_DIR", "") or "",
    )
