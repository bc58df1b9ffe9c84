"""retention-archive as the local runtime runs it: events that went through the pipeline a year ago (by
their time) are archived to a real SeaweedFS, pruned from the store, and restored by HTTP."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ingestor import subjects
from ingestor.archive.run import NOT_CONFIGURED
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.support.ha_events import many
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime
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
        js.publish_batch(subjects.RAW, "last-year", many(30, prefix="sensor.archived", start=OLD))
        js.publish_batch(subjects.RAW, "this-year", many(5, prefix="sensor.recent"))
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
    assert status["state"] == "idle" and status["errors"] == [] and status["archive"]["days"] == 1

    day_text = OLD.strftime("%Y-%m-%d")
    restored = rt.signed_call("POST", f"retention-archive/restore?from={day_text}&to={day_text}")
    assert restored.status == 200, restored.body
    assert store.count(EventFilter(text="sensor.archived")) == 30


class S3Recorder(http.server.ThreadingHTTPServer):
    """Stands where boto3 would go without an endpoint (AWS's), to see whether anything asks it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recording)
        self.requests: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Recording(http.server.BaseHTTPRequestHandler):
    server: S3Recorder

    def _record(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = _record  # noqa: N815 - http.server's naming

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def unconfigured_runtime(tmp_path: Path) -> Iterator[tuple[LocalRuntime, S3Recorder]]:
    """`make run`'s default (no ARCHIVE_S3_*), with AWS credentials in the environment and AWS's endpoint
    replaced by a recorder (AWS_ENDPOINT_URL, which boto3 honours)."""
    recorder = S3Recorder()
    rt = LocalRuntime(tmp_path, env={"AWS_ENDPOINT_URL": recorder.url, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
                                     "AWS_SECRET_ACCESS_KEY": "example-secret", "TEST_S3_ENDPOINT": "",
                                     "TEST_S3_BUCKET": ""})
    try:
        yield rt.start(), recorder
    finally:
        rt.stop()
        recorder.shutdown()
        recorder.server_close()


def test_without_an_archive_configured_restore_and_run_answer_409_and_no_s3_is_asked(
        unconfigured_runtime: tuple[LocalRuntime, S3Recorder]) -> None:
    rt, recorder = unconfigured_runtime
    for target in ("retention-archive/restore?from=2025-01-01&to=2025-01-31", "retention-archive/run",
                   "retention-archive/run?dry_run=1"):
        reply = rt.signed_call("POST", target)
        assert reply.status == 409, (target, reply.body)
        assert reply.json()["error"] == {"code": "archive_not_configured", "message": NOT_CONFIGURED}
    scheduled = rt.signed_call("POST", "retention-archive")  # the daily cron run: skipped, not an error
    assert scheduled.status == 200 and scheduled.json()["skipped"] == NOT_CONFIGURED
    status = call("GET", f"{rt.gateway}/function/retention-archive/status").json()
    assert status["config"]["enabled"] is False and status["errors"] == [NOT_CONFIGURED]
    assert recorder.requests == []
