"""health's handler: the system's status, the pipeline and the configuration, secrets masked; the system's own
judgement is tests/health."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.function import invoke, load_handler


def test_the_configuration_is_shown_with_its_secrets_masked(process: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_STORE_URL", "postgresql://ingestor:pg-s3cret-0001@127.0.0.1:1/ha")
    status, shown = invoke(load_handler("health"), "GET", "/config")
    assert status == 200 and "pg-s3cret-0001" not in str(shown)
    assert shown["endpoints"]["event_store"] == "postgresql://ingestor:***@127.0.0.1:1/ha"


def test_it_answers_whatever_it_finds_and_stays_healthy_itself(process: Path) -> None:
    handler = load_handler("health")
    status, body = invoke(handler, "GET", "/")
    assert status == 200 and body["status"] in ("ok", "degraded", "unhealthy")
    assert handler.health() == {"status": "ok"}
