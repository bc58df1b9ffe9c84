"""Real servers for the archive tests: one SeaweedFS (S3) per session (InfluxDB and PostgreSQL are the
session's, from tests/conftest.py); every test gets its own bucket and its own database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ingestor import normalization
from ingestor.archive.run import Archiver
from ingestor.archive.s3 import Bucket
from ingestor.archive.settings import Settings
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.support.faultproxy import FaultProxy
from tests.support.ha_events import state_changed
from tests.support.seaweedfs import SeaweedFS
from tests.support.servers import store_url

NOW = dt.datetime(2026, 11, 1, 3, 17, tzinfo=dt.UTC)  # raw window 365 days: 2025-11-01 onward is kept raw
OLD_DAYS = [dt.date(2025, 10, 27), dt.date(2025, 10, 28), dt.date(2025, 10, 29), dt.date(2025, 10, 30)]
RECENT_DAYS = [dt.date(2025, 11, 1), dt.date(2025, 11, 2)]
OLD = EventFilter(end=dt.datetime(2025, 11, 1, tzinfo=dt.UTC))
RECENT = EventFilter(start=dt.datetime(2025, 11, 1, tzinfo=dt.UTC))
ALL = EventFilter()
EARLY = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedFS]:
    server = SeaweedFS().start()
    yield server
    server.cleanup()


@pytest.fixture()
def proxy(seaweed: SeaweedFS) -> Iterator[FaultProxy]:
    front = FaultProxy(seaweed.port)
    yield front
    front.close()


@pytest.fixture(params=["sqlite", "influxdb1"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = open_event_store(store_url(request.param, tmp_path, request))
    yield event_store
    event_store.close()


@pytest.fixture()
def sqlite_store(tmp_path: Path) -> Iterator[Any]:
    event_store = open_event_store(f"sqlite:///{tmp_path}/events.db")
    yield event_store
    event_store.close()


def settings_for(endpoint: str, bucket: str, server: SeaweedFS, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        endpoint=endpoint, bucket=bucket, region="us-east-1", prefix="home/", raw_retention_days=365,
        summary_retention_days=1825, schedule="17 3 * * *", create_bucket=True, max_attempts=2,
        connect_timeout_s=2.0, read_timeout_s=10.0, export_batch=50, max_days_per_run=62, access_key=server.access_key,
        secret_key=server.secret_key)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture()
def bucket_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def archiver_for(seaweed: SeaweedFS, bucket_name: str) -> Callable[..., Archiver]:
    """An Archiver for `store`, through `endpoint` (SeaweedFS itself unless a proxy is given)."""

    def make(event_store: Any, endpoint: str | None = None, **overrides: Any) -> Archiver:
        current = settings_for(endpoint or seaweed.endpoint, bucket_name, seaweed, **overrides)
        return Archiver(event_store, Bucket(current), current)

    return make


@pytest.fixture()
def s3(seaweed: SeaweedFS) -> Any:
    """A plain boto3 client, to look at (and damage) what the archive wrote."""
    return boto3.client("s3", endpoint_url=seaweed.endpoint, region_name="us-east-1",
                        aws_access_key_id=seaweed.access_key, aws_secret_access_key=seaweed.secret_key,
                        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


def keys(s3: Any, bucket: str) -> dict[str, tuple[int, str]]:
    """key -> (size, etag) of every object in the bucket ({} when the bucket does not exist)."""
    try:
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    except s3.exceptions.NoSuchBucket:
        return {}
    return {o["Key"]: (o["Size"], o["ETag"]) for p in pages for o in p.get("Contents", [])}


def day_records(day: dt.date, per_day: int = 48) -> list[dict[str, Any]]:
    """A day of a small home: a temperature (numbers), a light (on/off as 1/0), a weather text state
    (no number), with times that do not sort like insertion order."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    out: list[dict[str, Any]] = []
    for i in range(per_day):
        at = start + dt.timedelta(seconds=(i * 7919) % 86_400, microseconds=i)
        kind = i % 3
        if kind == 0:
            event = state_changed("sensor.outdoor_temp", f"{(i % 17) / 2:.1f}", f"{(i % 23) / 3 - 2:.2f}", at)
        elif kind == 1:
            event = state_changed("light.hall", "off" if i % 2 else "on", "on" if i % 2 else "off", at, unit=None)
        else:
            event = state_changed("weather.home", "sunny", ["cloudy", "rainy"][i % 2], at, unit=None)
        out.append(normalization.normalize_event(event))
    return out


def everything(event_store: Any, flt: EventFilter = ALL) -> list[dict[str, Any]]:
    """Every record of the filter's range, oldest first, as the store exports them."""
    start = flt.start or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    end = flt.end or dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    if getattr(event_store, "backend", "") == "influxdb1":  # its export walks hour windows: keep them few
        start = max(start, dt.datetime(2025, 10, 26, tzinfo=dt.UTC))
        end = min(end, dt.datetime(2025, 11, 4, tzinfo=dt.UTC))
    records = [r for batch in event_store.export(start, end) for r in batch]
    return sorted(records, key=lambda r: (r["time_fired"], r["event_id"]))


@pytest.fixture()
def home(store: Any) -> list[dict[str, Any]]:
    written = [r for day in OLD_DAYS + RECENT_DAYS for r in day_records(day)]
    store.write(written)
    return written
