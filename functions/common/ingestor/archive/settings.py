"""The archive's configuration, from environment variables and secrets (never logged or returned)."""

from __future__ import annotations

from dataclasses import dataclass

from ingestor import config


@dataclass(frozen=True)
class Settings:
    endpoint: str | None  # None: AWS's own endpoint for the region
    bucket: str
    region: str
    prefix: str  # prepended to every key, e.g. "home/" -> home/events/2025/01/31/manifest.json
    raw_retention_days: int
    summary_retention_days: int
    schedule: str  # the cron expression stack.yml runs the function on (shown as "next run")
    create_bucket: bool
    max_attempts: int
    connect_timeout_s: float
    read_timeout_s: float
    export_batch: int
    max_days_per_run: int  # bounds a run's length (a first run may face years of backlog); the next run goes on
    access_key: str | None
    secret_key: str | None
    enabled: bool = True  # ARCHIVE_S3_ENDPOINT and ARCHIVE_S3_BUCKET both set: else no S3 is touched, nothing pruned

    def describe(self) -> dict[str, object]:
        """What status shows: everything but the credentials."""
        return {"enabled": self.enabled, "endpoint": self.endpoint, "bucket": self.bucket, "region": self.region,
                "prefix": self.prefix,
                "raw_retention_days": self.raw_retention_days,
                "summary_retention_days": self.summary_retention_days, "schedule": self.schedule,
                "max_days_per_run": self.max_days_per_run,
                "credentials": "configured" if self.access_key and self.secret_key else "default chain"}


def load() -> Settings:
    raw = config.env_int("RAW_RETENTION_DAYS", 365)
    summary = config.env_int("SUMMARY_RETENTION_DAYS", 1825)
    if raw < 1:
        raise config.ConfigError("RAW_RETENTION_DAYS must be at least 1")
    if summary < raw:
        raise config.ConfigError("SUMMARY_RETENTION_DAYS must be at least RAW_RETENTION_DAYS")
    prefix = config.env_str("ARCHIVE_PREFIX", "") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return Settings(
        endpoint=config.env_str("ARCHIVE_S3_ENDPOINT"),
        bucket=config.env_str("ARCHIVE_S3_BUCKET", "ha-ingestor-archive") or "ha-ingestor-archive",
        region=config.env_str("ARCHIVE_S3_REGION", "us-east-1") or "us-east-1",
        prefix=prefix.lstrip("/"),
        raw_retention_days=raw,
        summary_retention_days=summary,
        schedule=config.env_str("ARCHIVE_SCHEDULE", "17 3 * * *") or "17 3 * * *",
        create_bucket=config.env_bool("ARCHIVE_S3_CREATE_BUCKET", True),
        max_attempts=config.env_int("ARCHIVE_S3_MAX_ATTEMPTS", 3),
        connect_timeout_s=config.env_float("ARCHIVE_S3_CONNECT_TIMEOUT_S", 5.0),
        read_timeout_s=config.env_float("ARCHIVE_S3_READ_TIMEOUT_S", 60.0),
        export_batch=config.env_int("ARCHIVE_EXPORT_BATCH", 5000),
        max_days_per_run=config.env_int("ARCHIVE_MAX_DAYS_PER_RUN", 62),
        access_key=config.secret("s3-access-key", "ARCHIVE_S3_ACCESS_KEY"),
        secret_key=config.secret("s3-secret-key", "ARCHIVE_S3_SECRET_KEY"),
        # never a default endpoint or bucket: a guessed bucket on AWS could be someone else's, fed to restore
        enabled=bool(config.env_str("ARCHIVE_S3_ENDPOINT") and config.env_str("ARCHIVE_S3_BUCKET")),
    )
