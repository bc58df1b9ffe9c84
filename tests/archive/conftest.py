"""Real servers for the archive tests: one S3 server per session and kind (tests/support/s3servers.py: SeaweedFS
and MinIO; every test using `s3server` runs against each kind listed there), one nats-server (the archive's lease),
InfluxDB and PostgreSQL from tests/conftest.py; every test gets its own bucket and its own database."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ingestor import normalization
from ingestor.archive import api
from ingestor.archive.run import Archiver
from ingestor.archive.s3 import Bucket
from ingestor.archive.settings import Settings
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from localfaas.natsserver import NatsServer
from tests.support import function
from tests.support.faultproxy import FaultProxy
from tests.support.ha_events import state_changed
from tests.support.s3servers import S3_SERVERS, S3Server, unavailable
from tests.support.servers import store_url

NOW = dt.datetime(2026, 11, 1, 3, 17, tzinfo=dt.UTC)  # raw window 365 days: 2025-11-01 onward is kept raw
OLD_DAYS = [dt.date(2025, 10, 27), dt.date(2025, 10, 28), dt.date(2025, 10, 29), dt.date(2025, 10, 30)]
RECENT_DAYS = [dt.date(2025, 11, 1), dt.date(2025, 11, 2)]
OLD = EventFilter(end=dt.datetime(2025, 11, 1, tzinfo=dt.UTC))
RECENT = EventFilter(start=dt.datetime(2025, 11, 1, tzinfo=dt.UTC))
ALL = EventFilter()
EARLY = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="session", params=sorted(S3_SERVERS))
def s3server(request: pytest.FixtureRequest) -> Iterator[S3Server]:
    if reason := unavailable(request.param):
        pytest.skip(reason)
    server = S3_SERVERS[request.param]().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(tmp_path_factory.mktemp("archive-nats")) as server:
        yield server


@pytest.fixture()
def proxy(s3server: S3Server) -> Iterator[FaultProxy]:
    front = FaultProxy(s3server.port)
    yield front
    front.close()


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = open_event_store(store_url(request.param, tmp_path, request))
    yield event_store
    event_store.close()


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


def settings_for(endpoint: str, bucket: str, server: S3Server, **overrides: Any) -> Settings:
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
def archiver_for(s3server: S3Server, bucket_name: str) -> Callable[..., Archiver]:
    """An Archiver for `store`, through `endpoint` (the S3 server itself unless a proxy is given)."""

    def make(event_store: Any, endpoint: str | None = None, **overrides: Any) -> Archiver:
        current = settings_for(endpoint or s3server.endpoint, bucket_name, s3server, **overrides)
        return Archiver(event_store, Bucket(current), current)

    return make


@pytest.fixture()
def s3(s3server: S3Server) -> Any:
    """A plain boto3 client, to look at (and damage) what the archive wrote."""
    return boto3.client("s3", endpoint_url=s3server.endpoint, region_name="us-east-1",
                        aws_access_key_id=s3server.access_key, aws_secret_access_key=s3server.secret_key,
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


def stays(event_store: Any) -> list[Any]:
    """The duration anomalies' sample as the store answers it (every stay: entity, state left, time, duration and
    event id), in a fixed order."""
    return sorted((g.entity_id, g.state, t, d, g.event_id(k)) for g in event_store.stay_groups(EventFilter())
                  for k, (t, d) in enumerate(zip(g.times, g.durations, strict=True)))


def raw_rows(event_store: Any) -> list[Any]:
    """Every event exactly as the store holds it (InfluxDB fields and tags; SQL below), in a fixed order:
    what "byte for byte" is checked on, below the store's own reading."""
    if getattr(event_store, "backend", "").startswith("influxdb"):
        from ingestor.store import influxql

        series = event_store.transport.query(f"SELECT * FROM {influxql.EVENTS}")
        # a query over several measurements answers the union of their columns: a field's absence is None
        # the duration anomalies' packs (influxstays.py), the stay rollups' (influxsums.py) and the counts'
        # (influxcounts.py) left out: a delete leaves its edge hours packed as known empty, which a fresh write
        # never packed; `stays` compares what the first answer, the rollups (stays_*, rollup_*) what the others hold
        rows = [(s["name"], tuple((c, x) for c, x in zip(s["columns"], v, strict=True) if x is not None))
                for s in series for v in s.get("values", [])
                if not s["name"].startswith(("aggregates_", "packed_stays_", "packed_sums_", "packed_counts_"))]
        return sorted(rows, key=repr)
    # SQL: the tiered layout keeps an event as a row or in a compressed block, its documents apart, so
    # "as stored" is each record serialized as the store rebuilds it (attribute key order included)
    return [json.dumps(r) for r in everything(event_store)]


FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "retention-archive"


def days_ago(n: int) -> dt.date:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=n)).date()


def load_handler() -> ModuleType:
    """retention-archive's handler as a process starting now has it: its configuration read at start."""
    return function.load_handler("retention-archive")


def invoke(handler: ModuleType, method: str, path: str = "/", query: dict[str, str] | None = None) -> Any:
    """(status, body) as the template answers the call."""
    return function.invoke(handler, method, path, query=query)


@pytest.fixture()
def function_env(tmp_path: Path, s3server: S3Server, bucket_name: str, nats: NatsServer) -> dict[str, str]:
    """The function's environment: a SQLite store holding two days older than the raw window and a recent one."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "s3-access-key").write_text(s3server.access_key)
    (secrets / "s3-secret-key").write_text(s3server.secret_key)
    url = f"sqlite:///{tmp_path}/events.db"
    events = open_event_store(url)
    events.write(day_records(days_ago(400)) + day_records(days_ago(399)) + day_records(days_ago(3)))
    events.close()
    return {"EVENT_STORE_URL": url, "SECRETS_DIR": str(secrets), "ARCHIVE_S3_ENDPOINT": s3server.endpoint,
            "ARCHIVE_S3_BUCKET": bucket_name, "ARCHIVE_PREFIX": "ha", "RAW_RETENTION_DAYS": "365",
            "ARCHIVE_S3_MAX_ATTEMPTS": "1", "NATS_URL": nats.url}


@pytest.fixture()
def handler(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    for name, value in function_env.items():
        monkeypatch.setenv(name, value)
    module = load_handler()
    yield module
    api.jobs().close()


@pytest.fixture()
def home(store: Any) -> list[dict[str, Any]]:
    written = [r for day in OLD_DAYS + RECENT_DAYS for r in day_records(day)]
    store.write(written)
    return written
