"""Thresholds changed through health's API: only with the `alerts-api-key` key (none configured: refused, never
open), each value checked as the environment's would be, kept in the metadata DB (so every replica and every
restart sees them), shown by GET /alerts, and in force at the next evaluation; null puts one back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.alerts.evaluate import Evaluator
from ingestor.alerts.settings import Settings
from ingestor.alerts.store import AlertStore
from tests.support.function import served
from tests.support.http import Reply, call
from tests.support.runtime import REPO

pytestmark = pytest.mark.integration
KEY = "alerts-key-for-the-thresholds-test-0021"


def health(tmp_path: Path, key: str | None) -> Iterator[str]:
    secrets = tmp_path / f"secrets-{bool(key)}"
    secrets.mkdir()
    if key:
        (secrets / "alerts-api-key").write_text(key)
    env = {"METADATA_DB_URL": f"sqlite:///{tmp_path}/metadata.db", "SECRETS_DIR": str(secrets),
           "ALERT_SILENT_FACTOR": "5"}
    with served(REPO / "functions" / "health", "health", tmp_path / f"health-{bool(key)}.log", env) as url:
        yield url


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    yield from health(tmp_path, KEY)


def put(url: str, body: Any, key: str | None = KEY) -> Reply:
    return call("PUT", f"{url}/alerts/thresholds", json.dumps(body).encode(),
                {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})})


def shown(url: str) -> dict[str, Any]:
    return call("GET", f"{url}/alerts").json()


def test_a_threshold_changes_only_with_the_key(url: str) -> None:
    assert put(url, {"ALERT_SILENT_FACTOR": 3}, key=None).status == 401
    assert put(url, {"ALERT_SILENT_FACTOR": 3}, key="wrong").status == 401
    assert shown(url)["thresholds"]["ALERT_SILENT_FACTOR"] == 5.0 and shown(url)["changed"] == []
    reply = put(url, {"ALERT_SILENT_FACTOR": 3, "ALERT_SILENT_DOMAINS": ["sensor", "binary_sensor"]})
    assert reply.status == 200, reply.body
    assert reply.json()["thresholds"]["ALERT_SILENT_FACTOR"] == 3.0
    assert shown(url)["thresholds"]["ALERT_SILENT_DOMAINS"] == ["sensor", "binary_sensor"]
    assert shown(url)["changed"] == ["ALERT_SILENT_DOMAINS", "ALERT_SILENT_FACTOR"]


def test_a_bad_or_unknown_threshold_is_refused_naming_it_and_nothing_changes(url: str) -> None:
    for body, named in (({"ALERT_SILENT_FACTOR": 0.5}, "ALERT_SILENT_FACTOR must be at least 1.0"),
                        ({"ALERT_BATTERY_PCT": "lots"}, "ALERT_BATTERY_PCT must be a number"),
                        ({"ALERT_NOPE": 1}, "ALERT_NOPE: not a setting here"),
                        ({"ALERT_DLQ_COUNT": True}, "ALERT_DLQ_COUNT: expected a number")):
        reply = put(url, body)
        assert reply.status == 400 and named in reply.json()["error"]["message"], (body, reply.body)
    assert shown(url)["changed"] == []


def test_null_puts_a_threshold_back_to_the_environments(url: str) -> None:
    assert put(url, {"ALERT_SILENT_FACTOR": 2, "ALERT_DLQ_COUNT": 3}).status == 200
    assert put(url, {"ALERT_SILENT_FACTOR": None}).json()["changed"] == ["ALERT_DLQ_COUNT"]
    assert shown(url)["thresholds"]["ALERT_SILENT_FACTOR"] == 5.0


def test_without_a_key_configured_thresholds_cannot_change_through_the_api(tmp_path: Path) -> None:
    for url in health(tmp_path, None):
        for key in (None, "anything"):
            reply = put(url, {"ALERT_SILENT_FACTOR": 3}, key=key)
            assert reply.status == 503 and reply.json()["error"]["code"] == "api_key_not_configured"
            assert "alerts-api-key" in reply.json()["error"]["message"]
        assert shown(url)["changed"] == []
        assert call("GET", f"{url}/alerts/history").status == 200  # reads stay open


def test_a_changed_threshold_is_in_force_at_the_next_evaluation(url: str, tmp_path: Path) -> None:
    assert put(url, {"ALERT_UNAVAILABLE_COUNT": 2}).status == 200
    evaluator = Evaluator(AlertStore(f"sqlite:///{tmp_path}/metadata.db"), Settings(), lambda: None,  # type: ignore
                          lambda: {})
    assert evaluator.settings().unavailable_count == 2 and evaluator.settings().silent_factor == 5.0
