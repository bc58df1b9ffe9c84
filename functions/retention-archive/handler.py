"""retention-archive (cron, daily): archives days older than RAW_RETENTION_DAYS to S3 as verified gzip NDJSON or
Parquet with a manifest per day, keeps hourly/daily aggregates, then prunes the archived rows; restores and
recovers days. The routes live in ingestor.archive.api; its configuration is read when the process starts."""

from __future__ import annotations

from ingestor.archive import api

UNSIGNED_READS = api.UNSIGNED_READS
start, handle, health = api.start, api.API.handle, api.health
