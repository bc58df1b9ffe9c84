"""The retention-archive function: its routes through handle(), the configuration checked at start, the
running state in /status, the CLI with its progress, and the process the template starts."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ingestor import jsoncodec
from ingestor.archive import api
from ingestor.health import rules
from ingestor.store.model import EventFilter
from localfaas.natsserver import free_port
from tests.archive.conftest import FUNCTION, days_ago, invoke, load_handler
from tests.support.function import served
from tests.support.http import call
from tests.support.runtime import REPO
from tests.support.s3servers import S3Server

pytestmark = pytest.mark.integration


def test_dry_run_returns_the_plan(handler: ModuleType) -> None:
    status, body = invoke(handler, "POST", "/run", {"dry_run": "1"})
    assert status == 200 and body["dry_run"] is True
    assert [(d["day"], d["outcome"]) for d in body["days"]] == [
        (str(days_ago(400)), "planned:archive"), (str(days_ago(399)), "planned:archive")]


def test_the_cron_run_archives_and_status_shows_it_without_secrets(handler: ModuleType,
                                                                   s3server: S3Server) -> None:
    status, body = invoke(handler, "POST", "/")
    assert status == 200 and body["ok"] and body["days_done"] == 2 and body["events_pruned"] == 96
    status, info = invoke(handler, "GET", "/status")
    assert status == 200 and info["state"] == "idle" and info["running"] is None
    assert info["archive"]["days"] == 2 and info["archive"]["objects"] == 4 and info["archive"]["bytes"] > 0
    assert info["archive"]["first_day"] == str(days_ago(400))
    assert info["last_run"]["ok"] and info["next_run"].endswith(":17:00Z") and info["errors"] == []
    text = jsoncodec.dumps(info).decode()
    assert s3server.secret_key not in text and s3server.access_key not in text


def test_the_bucket_is_created_when_the_function_starts(handler: ModuleType, s3server: S3Server,
                                                        bucket_name: str, s3: Any) -> None:
    api.jobs().prepare()  # what the start-up thread does, awaited here
    assert s3.head_bucket(Bucket=bucket_name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    status, info = invoke(handler, "GET", "/status")
    assert info["errors"] == [] and info["archive"]["days"] == 0
    assert rules.archive(info).status == "ok"  # not "degraded" until the first run


def test_the_function_writes_to_a_sqlite_store_with_sqlites_default_page_cache(handler: ModuleType) -> None:
    """Not the 64 MB `write` keeps: a restore of a busy day would fill it and keep it (archive.settings)."""
    with api.jobs().store.engine.connect().execution_options(writing=True) as conn, conn.begin():  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -2_000


def test_a_missing_bucket_that_may_not_be_created_is_reported_clearly(
        function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**function_env, "ARCHIVE_S3_CREATE_BUCKET": "false"}.items():
        monkeypatch.setenv(name, value)
    module = load_handler()
    try:
        problem = api.jobs().prepare()
        assert problem == (f"bucket {function_env['ARCHIVE_S3_BUCKET']} does not exist and "
                           "ARCHIVE_S3_CREATE_BUCKET=false: create it, or allow the archive to")
        assert problem in invoke(module, "GET", "/status")[1]["errors"]
    finally:
        api.jobs().close()


def test_wrong_credentials_are_named_as_such(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    for name, value in function_env.items():
        monkeypatch.setenv(name, value)
    (Path(function_env["SECRETS_DIR"]) / "s3-secret-key").write_text("not-the-secret-key")
    load_handler()
    try:
        problem = api.jobs().prepare() or ""
        assert "check the credentials (secrets s3-access-key, s3-secret-key)" in problem and "403" in problem
        assert "not-the-secret-key" not in problem
    finally:
        api.jobs().close()


@pytest.mark.parametrize(("name", "value", "named"), [
    ("ARCHIVE_S3_ENDPOINT", "minio.openfaas:9000", "ARCHIVE_S3_ENDPOINT must be a URL"),
    ("RAW_RETENTION_DAYS", "one year", "RAW_RETENTION_DAYS must be an integer"),
    ("ARCHIVE_S3_ENDPOINT", "", "ARCHIVE_S3_ENDPOINT is empty while ARCHIVE_S3_BUCKET is set"),
])
def test_a_bad_setting_is_named_by_status_health_and_every_call_and_nothing_is_pruned(
        function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str) -> None:
    for key, given in {**function_env, name: value}.items():
        monkeypatch.setenv(key, given)
    module = load_handler()
    status, info = invoke(module, "GET", "/status")
    assert status == 200 and info["state"] == "misconfigured" and named in info["errors"][0]
    assert module.health()["status"] == "unhealthy" and named in module.health()["errors"][0]
    status, body = invoke(module, "POST", "/")
    assert status == 503 and body["error"]["code"] == "archive_misconfigured" and named in body["error"]["message"]
    from ingestor.store import open_event_store

    events = open_event_store(function_env["EVENT_STORE_URL"])
    assert events.count(EventFilter()) == 3 * 48
    events.close()


def test_restore_over_http_brings_the_days_back(handler: ModuleType) -> None:
    assert invoke(handler, "POST", "/")[0] == 200
    status, body = invoke(handler, "POST", "/restore", {"from": str(days_ago(401)), "to": str(days_ago(399))})
    assert status == 200 and body["restored_rows"] == 96 and body["ok"]
    assert [d["outcome"] for d in body["days"]] == ["not archived", "restored", "restored"]
    assert api.jobs().store.count(EventFilter(end=dt.datetime.now(dt.UTC) - dt.timedelta(days=365))) == 96


def test_a_bad_restore_date_is_a_400(handler: ModuleType) -> None:
    status, body = invoke(handler, "POST", "/restore", {"from": "last tuesday"})
    assert status == 400 and body["error"]["code"] == "bad_date"


def test_a_bad_recover_action_is_a_400(handler: ModuleType) -> None:
    status, body = invoke(handler, "POST", "/recover", {"day": str(days_ago(400)), "action": "delete"})
    assert status == 400 and body["error"]["code"] == "bad_action" and "repair, rebuild" in body["error"]["message"]


def test_status_shows_the_running_job_and_its_current_day_and_a_second_run_is_refused(handler: ModuleType) -> None:
    jobs = api.jobs()
    reached, go_on = threading.Event(), threading.Event()
    original = jobs.store.write_aggregates

    def slow_aggregates(rows: list[Any]) -> None:  # the first day waits here, mid-run, until the test looked
        reached.set()
        assert go_on.wait(30)
        original(rows)

    jobs.store.write_aggregates = slow_aggregates  # type: ignore[method-assign]
    replies: list[Any] = []
    runner = threading.Thread(target=lambda: replies.append(invoke(handler, "POST", "/")))
    runner.start()
    try:
        assert reached.wait(30)
        status, info = invoke(handler, "GET", "/status")
        assert info["state"] == "running"
        running = info["running"]
        assert running["action"] == "run" and running["progress"]["day"] == str(days_ago(400))
        assert running["progress"]["days_total"] == 2 and f"pid {os.getpid()}" in running["holder"]
        status, busy = invoke(handler, "POST", "/run")
        assert status == 409 and busy["error"]["code"] == "busy"
        assert running["holder"] in busy["error"]["message"] and running["since"] in busy["error"]["message"]
    finally:
        go_on.set()
        runner.join(60)
    assert replies[0][0] == 200 and replies[0][1]["days_done"] == 2


def test_each_day_is_logged_once_with_its_events_bytes_and_seconds(handler: ModuleType,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="ingestor.archive.run"):
        assert invoke(handler, "POST", "/")[0] == 200
    lines = [r for r in caplog.records if r.name == "ingestor.archive.run"]
    assert [(r.day, r.outcome, r.events) for r in lines] == [(str(days_ago(400)), "archived", 48),
                                                              (str(days_ago(399)), "archived", 48)]
    assert all(r.bytes > 0 and r.seconds >= 0 for r in lines)


def test_an_unreachable_s3_is_a_503_and_the_store_keeps_everything(
        function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**function_env, "ARCHIVE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}.items():
        monkeypatch.setenv(name, value)
    module = load_handler()
    status, body = invoke(module, "POST", "/")
    assert status == 503 and body["error"]["code"] == "archive_failed" and "cannot reach" in body["error"]["message"]
    assert api.jobs().store.count(EventFilter()) == 3 * 48
    api.jobs().close()


def test_the_function_serves_status_and_health_when_started_by_the_template(
        function_env: dict[str, str], tmp_path: Path) -> None:
    with served(FUNCTION, "retention-archive", tmp_path / "function.log", function_env) as url:
        assert call("POST", f"{url}/run?dry_run=1").json()["dry_run"] is True
        assert call("POST", url, b"", {"X-Trigger": "cron"}).json()["days_done"] == 2
        health = call("GET", f"{url}/_/health")
        assert health.status == 200 and health.json()["archive"]["days"] == 2
        assert call("GET", f"{url}/status").json()["last_run"]["ok"] is True


def command(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    done = subprocess.run([sys.executable, "-m", "ingestor.archive", *args], capture_output=True, timeout=120,
                          env={**os.environ, **env, "PYTHONPATH": str(REPO / "functions" / "common")})
    return done.returncode, jsoncodec.loads(done.stdout) if done.stdout else None, done.stderr.decode()


def test_the_commands_run_restore_and_report_with_a_line_per_day(function_env: dict[str, str]) -> None:
    code, report, progress = command(function_env, "run")
    assert code == 0 and report["days_done"] == 2
    assert f"run {days_ago(400)} (1/2): archived, 48 events" in progress
    assert f"run {days_ago(399)} (2/2): archived, 48 events" in progress
    code, restored, progress = command(function_env, "restore", "--from", str(days_ago(400)), "--to",
                                       str(days_ago(399)))
    assert code == 0 and restored["restored_rows"] == 96
    assert f"restore {days_ago(400)} (1/2): restored, 48 events" in progress
    code, info, _ = command(function_env, "status")
    assert code == 0 and info["archive"]["days"] == 2 and info["last_run"]["ok"]


def test_a_command_with_a_bad_setting_names_it_and_exits_2(function_env: dict[str, str]) -> None:
    code, output, message = command({**function_env, "ARCHIVE_S3_MAX_ATTEMPTS": "many"}, "run")
    assert code == 2 and output is None
    assert message == "configuration error: ARCHIVE_S3_MAX_ATTEMPTS must be an integer, got 'many'\n"


def test_without_an_s3_configuration_nothing_is_archived_or_pruned(
        function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in function_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ARCHIVE_S3_ENDPOINT")
    monkeypatch.delenv("ARCHIVE_S3_BUCKET")
    module = load_handler()
    status, body = invoke(module, "POST", "/")
    assert status == 200 and "not configured" in body["skipped"] and body["days"] == []
    assert invoke(module, "POST", "/run")[0] == 409
    assert invoke(module, "POST", "/restore", {"from": "2025-01-01"})[0] == 409
    assert api.jobs().store.count(EventFilter()) == 3 * 48
    status, info = invoke(module, "GET", "/status")
    assert info["state"] == "off" and "not configured" in info["errors"][0]
    api.jobs().close()
