"""webhook-dispatch served alone: bad input is a 400, and an unreachable metadata DB a 503 (redeliver later)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestor import envelope
from localfaas.natsserver import free_port
from tests.support.function import served
from tests.support.http import call
from tests.support.runtime import REPO
from tests.webhooks.events import ha_record

pytestmark = pytest.mark.integration
DISPATCH = REPO / "functions" / "webhook-dispatch"


def test_an_unreachable_metadata_db_is_503_and_unhealthy(tmp_path: Path) -> None:
    env = {"METADATA_DB_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none", "WEBHOOK_SWEEP_S": "0"}
    with served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
        reply = call("POST", url, envelope.encode("b1", [ha_record("light.a")]))
        assert reply.status == 503 and reply.json()["error"]["code"] == "unavailable"
        assert call("GET", f"{url}/_/health").status == 503


def test_a_malformed_batch_is_a_400_naming_the_problem(tmp_path: Path) -> None:
    env = {"METADATA_DB_URL": f"sqlite:///{tmp_path}/metadata.db", "WEBHOOK_SWEEP_S": "0"}
    with served(DISPATCH, "webhook-dispatch", tmp_path / "log", env) as url:
        reply = call("POST", url, b'{"v": 1, "events": []}')
        assert reply.status == 400 and "batch_id" in reply.json()["error"]["message"]
        ok = call("POST", url, envelope.encode("b2", [ha_record("light.a")]))
        assert ok.status == 200 and ok.json()["matched"] == 0
        assert call("GET", f"{url}/_/health").json()["status"] == "ok"
