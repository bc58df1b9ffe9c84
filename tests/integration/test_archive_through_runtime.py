"""retention-archive as the local runtime runs it: events that went through the pipeline a year ago (by
their time) are archived to a real SeaweedFS, pruned from the store, and restored by HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.support.ha_events import many
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.runtime import LocalRuntime, wait_for
from tests.support.seaweedfs import SeaweedFS

pytestmark = pytest.mark.integration
OLD = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=400)


@pytest.fixture()
def archiving_runtime(tmp_path: Path) -> Iterator[tuple[LocalRuntime, SeaweedFS]]:
    seaweed = SeaweedFS().start()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "s3-access-key").write_text(seaweed.access_key)
    (tmp_path / "secrets" / "s3-secret-key").write_text(seaweed.secret_key)
    rt = LocalRuntime(tmp_path, env={"TEST_S3_ENDPOINT": seaweed.endpoint, "TEST_S3_BUCKET": "ha-archive"})
    try:
        yield rt.start(), seaweed
    finally:
        rt.stop()
        seaweed.cleanup()


def test_old_events_are_archived_verified_pruned_and_restored(archiving_runtime: tuple[LocalRuntime, SeaweedFS],
                                                               tmp_path: Path) -> None:
    rt, seaweed = archiving_runtime
    store = open_event_store(f"sqlite:///{tmp_path}/data/events.db")
    js = JetStreamClient(rt.nats_url)
    try:
        js.publish_batch("ha.events.raw", "last-year", many(30, prefix="sensor.archived", start=OLD))
        js.publish_batch("ha.events.raw", "this-year", many(5, prefix="sensor.recent"))
        assert wait_for(lambda: store.count(EventFilter()) == 35, 30)
    finally:
        js.close()

    plan = rt.signed_call("POST", "retention-archive/run?dry_run=1")
    assert plan.status == 200, plan.body
    assert store.count(EventFilter()) == 35  # a dry run touches nothing

    run = rt.signed_call("POST", "retention-archive")
    assert run.status == 200, run.body
    assert store.count(EventFilter()) == 5 and store.count(EventFilter(text="sensor.recent")) == 5
    s3 = boto3.client("s3", endpoint_url=seaweed.endpoint, aws_access_key_id=seaweed.access_key,
                      aws_secret_access_key=seaweed.secret_key, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="ha-archive")["Contents"]]
    day = OLD.strftime("events/%Y/%m/%d/")
    assert any(k.startswith(day) and k.endswith(".ndjson.gz") for k in keys)
    assert f"{day}manifest.json" in keys

    status = call("GET", f"{rt.gateway}/function/retention-archive/status").json()
    assert "test-secret-key" not in str(status)

    day_text = OLD.strftime("%Y-%m-%d")
    restored = rt.signed_call("POST", f"retention-archive/restore?from={day_text}&to={day_text}")
    assert restored.status == 200, restored.body
    assert store.count(EventFilter(text="sensor.archived")) == 30

