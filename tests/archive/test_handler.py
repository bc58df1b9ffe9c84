"""The retention-archive function: its routes through handle(), and the process the template starts."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from ingestor import jsoncodec
from ingestor.responses import HTTPError, from_error
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from localfaas.natsserver import free_port
from tests.archive.conftest import day_records
from tests.support.function import served
from tests.support.http import call
from tests.support.runtime import REPO
from tests.support.seaweedfs import SeaweedFS

pytestmark = pytest.mark.integration
FUNCTION = REPO / "functions" / "retention-archive"


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("retention_archive_handler", FUNCTION / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def days_ago(n: int) -> dt.date:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=n)).date()


@pytest.fixture()
def function_env(tmp_path: Path, seaweed: SeaweedFS, bucket_name: str) -> dict[str, str]:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "s3-access-key").write_text(seaweed.access_key)
    (secrets / "s3-secret-key").write_text(seaweed.secret_key)
    store_url = f"sqlite:///{tmp_path}/events.db"
    events = open_event_store(store_url)
    events.write(day_records(days_ago(400)) + day_records(days_ago(399)) + day_records(days_ago(3)))
    events.close()
    return {"EVENT_STORE_URL": store_url, "SECRETS_DIR": str(secrets), "ARCHIVE_S3_ENDPOINT": seaweed.endpoint,
            "ARCHIVE_S3_BUCKET": bucket_name, "ARCHIVE_PREFIX": "ha", "RAW_RETENTION_DAYS": "365",
            "ARCHIVE_S3_MAX_ATTEMPTS": "1"}


@pytest.fixture()
def handler(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    for name, value in function_env.items():
        monkeypatch.setenv(name, value)
    module = load_handler()
    yield module
    module.archiver().store.close()


def invoke(handler: ModuleType, method: str, path: str = "/", query: dict[str, str] | None = None) -> Any:
    event = SimpleNamespace(method=method, path=path, query=query or {}, headers={}, body=b"")
    try:
        reply = handler.handle(event, SimpleNamespace())
    except HTTPError as exc:  # what the template answers for it
        reply = from_error(exc)
    return reply["statusCode"], jsoncodec.loads(reply["body"])


def test_dry_run_returns_the_plan(handler: ModuleType) -> None:
    status, body = invoke(handler, "POST", "/run", {"dry_run": "1"})
    assert status == 200 and body["dry_run"] is True
    assert [(d["day"], d["outcome"]) for d in body["days"]] == [
        (str(days_ago(400)), "planned:archive"), (str(days_ago(399)), "planned:archive")]


def test_the_cron_run_archives_and_status_shows_it_without_secrets(handler: ModuleType,
                                                                   seaweed: SeaweedFS) -> None:
    status, body = invoke(handler, "POST", "/")
    assert status == 200 and body["ok"] and body["days_done"] == 2 and body["events_pruned"] == 96
    status, info = invoke(handler, "GET", "/status")
    assert status == 200
    assert info["archive"]["days"] == 2 and info["archive"]["objects"] == 4 and info["archive"]["bytes"] > 0
    assert info["archive"]["first_day"] == str(days_ago(400))
    assert info["last_run"]["ok"] and info["next_run"].endswith(":17:00Z") and info["errors"] == []
    text = jsoncodec.dumps(info).decode()
    assert seaweed.secret_key not in text and seaweed.access_key not in text


def test_restore_over_http_brings_the_days_back(handler: ModuleType) -> None:
    assert invoke(handler, "POST", "/")[0] == 200
    status, body = invoke(handler, "POST", "/restore", {"from": str(days_ago(401)), "to": str(days_ago(399))})
    assert status == 200 and body["restored_rows"] == 96
    assert [d["outcome"] for d in body["days"]] == ["not archived", "restored", "restored"]
    assert handler.archiver().store.count(EventFilter(end=dt.datetime.now(dt.UTC) - dt.timedelta(days=365))) == 96


def test_a_bad_restore_date_is_a_400(handler: ModuleType) -> None:
    status, body = invoke(handler, "POST", "/restore", {"from": "last tuesday"})
    assert status == 400 and body["error"]["code"] == "bad_date"


def test_an_unreachable_s3_is_a_503_and_the_store_keeps_everything(
        function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**function_env, "ARCHIVE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}.items():
        monkeypatch.setenv(name, value)
    module = load_handler()
    status, body = invoke(module, "POST", "/")
    assert status == 503 and body["error"]["code"] == "archive_failed"
    assert module.archiver().store.count(EventFilter()) == 3 * 48
    module.archiver().store.close()


def test_the_function_serves_status_and_health_when_started_by_the_template(
        function_env: dict[str, str], tmp_path: Path) -> None:
    with served(FUNCTION, "retention-archive", tmp_path / "function.log", function_env) as url:
        assert call("POST", f"{url}/run?dry_run=1").json()["dry_run"] is True
        assert call("POST", url, b"", {"X-Trigger": "cron"}).json()["days_done"] == 2
        health = call("GET", f"{url}/_/health")
        assert health.status == 200 and health.json()["archive"]["days"] == 2
        assert call("GET", f"{url}/status").json()["last_run"]["ok"] is True


def test_the_restore_command_brings_archived_days_back(function_env: dict[str, str]) -> None:
    env = {**os.environ, **function_env, "PYTHONPATH": str(REPO / "functions" / "common")}

    def command(*args: str) -> tuple[int, Any]:
        done = subprocess.run([sys.executable, "-m", "ingestor.archive", *args], env=env, capture_output=True,
                              timeout=60)
        return done.returncode, jsoncodec.loads(done.stdout)

    code, report = command("run")
    assert code == 0 and report["days_done"] == 2
    code, restored = command("restore", "--from", str(days_ago(400)), "--to", str(days_ago(399)))
    assert code == 0 and restored["restored_rows"] == 96
    code, info = command("status")
    assert code == 0 and info["archive"]["days"] == 2 and info["last_run"]["ok"]


def test_without_an_s3_configuration_nothing_is_archived_or_pruned(
        function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in function_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ARCHIVE_S3_ENDPOINT")
    monkeypatch.delenv("ARCHIVE_S3_BUCKET")
    module = load_handler()
    status, body = invoke(module, "POST", "/")
    assert status == 200 and "not configured" in body["skipped"] and body["days"] == []
    assert module.archiver().store.count(EventFilter()) == 3 * 48
    assert "not configured" in invoke(module, "GET", "/status")[1]["errors"][0]
    module.archiver().store.close()
