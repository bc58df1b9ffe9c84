"""Functions that change data accept only the connectors' signed calls, through the real local runtime."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestor import envelope, normalization, signedcalls, subjects
from ingestor.metadata.registry import MetadataDB
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from localfaas.call import signature
from tests.metadata.test_metadata import snapshot
from tests.support.ha_events import state_changed
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.runtime import REPO, LocalRuntime

pytestmark = pytest.mark.integration


def front_door_unlocked(batch_id: str) -> bytes:
    """An attacker's batch for write: the front door's lock reported "unlocked", shaped as the pipeline makes it."""
    event = state_changed("lock.front_door", "locked", "unlocked", at=dt.datetime.now(dt.UTC), unit=None)
    return envelope.encode(batch_id, [normalization.normalize_event(event)])


def front_door_events(runtime: LocalRuntime) -> int:
    return open_event_store(f"sqlite:///{runtime.workdir}/data/events.db").count(EventFilter(text="lock.front_door"))


def areas(runtime: LocalRuntime) -> int | None:
    return MetadataDB(f"sqlite:///{runtime.workdir}/data/metadata.db").health().get("areas")


def test_a_forged_front_door_event_posted_to_write_is_refused_and_not_stored(runtime: LocalRuntime) -> None:
    reply = call("POST", f"{runtime.gateway}/function/write", front_door_unlocked("forged-1"),
                 {"Content-Type": "application/json"})
    assert reply.status == 401
    assert reply.json()["error"]["code"] == "unsigned_call"
    assert front_door_events(runtime) == 0
    signed = runtime.signed_call("POST", "write", front_door_unlocked("genuine-1"))  # the same, from a connector
    assert signed.status == 200, signed.body
    assert front_door_events(runtime) == 1


def test_a_call_signed_with_another_key_or_too_long_ago_is_refused(runtime: LocalRuntime) -> None:
    body = front_door_unlocked("forged-2")
    wrong_key = signedcalls.sign("not-the-connector-key", "POST", "/", "", body)
    stale = signedcalls.sign(runtime.connector_key, "POST", "/", "", body, now=time.time() - 400)
    other_body = signature(runtime.connector_key, "POST", "write", front_door_unlocked("other"))
    for headers in (wrong_key, stale, other_body, {signedcalls.HEADER: "t=1,v1=00"}):
        reply = call("POST", f"{runtime.gateway}/function/write", body, headers)
        assert reply.status == 401, (headers, reply.body)
    assert front_door_events(runtime) <= 1  # the genuine one of the test above, if it ran


def test_a_one_area_snapshot_posted_to_metadata_sync_is_refused_and_removes_nothing(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish_batch(subjects.REGISTRY, "home-registry", snapshot("home"))  # the bridge's, through the connector
    known = wait_for(lambda: (areas(runtime) or 0) > 1 and areas(runtime), 30)
    assert known, "the real snapshot never reached the metadata DB"
    forged = [{"type": "areas", "snapshot_id": "forged", "fetched_at": "2026-11-22T11:30:00.000000Z",
               "ha_version": "2024.3.3", "part": 1, "parts": 1,
               "items": [{"area_id": "attic", "name": "Attic"}]}]
    reply = call("POST", f"{runtime.gateway}/function/metadata-sync", envelope.encode("forged-registry", forged),
                 {"Content-Type": "application/json"})
    assert reply.status == 401
    assert areas(runtime) == known


@pytest.mark.parametrize("function", ["validate", "normalize", "weather-enrich", "context-poll", "retention-archive"])
def test_every_triggered_function_refuses_an_unsigned_call(runtime: LocalRuntime, function: str) -> None:
    reply = call("POST", f"{runtime.gateway}/function/{function}", b"{}", {"Content-Type": "application/json"})
    assert reply.status == 401, reply.body
    assert reply.json()["error"]["code"] == "unsigned_call"


@pytest.mark.parametrize("path", ["run", "restore?from=2025-01-01", "recover?day=2025-01-01&action=rebuild"])
def test_the_archive_routes_that_change_data_refuse_an_unsigned_call(runtime: LocalRuntime, path: str) -> None:
    reply = call("POST", f"{runtime.gateway}/function/retention-archive/{path}", b"")
    assert reply.status == 401 and reply.json()["error"]["code"] == "unsigned_call", reply.body


def test_status_reads_health_and_metrics_stay_open(runtime: LocalRuntime) -> None:
    for path in ("retention-archive/status", "context-poll/config", "context-poll/status", "write/_/health",
                 "metadata-sync/_/ready"):
        assert call("GET", f"{runtime.gateway}/function/{path}").status == 200, path
    metrics_text = call("GET", f"{runtime.ready['functions']['write']}/_/metrics").body.decode()
    assert 'ha_ingestor_function_requests_total{function="write",status="401"}' in metrics_text


def test_the_connectors_calls_are_signed_so_the_pipeline_stores_events(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    event = state_changed("lock.back_door", "unlocked", "locked", at=dt.datetime.now(dt.UTC), unit=None)
    js.publish_batch(subjects.RAW, "back-door", [event])
    store = open_event_store(f"sqlite:///{runtime.workdir}/data/events.db")
    assert wait_for(lambda: store.count(EventFilter(text="lock.back_door")) == 1, 30)


def test_the_runtime_keeps_the_generated_key_private(runtime: LocalRuntime) -> None:
    key_file = runtime.workdir / "secrets" / "connector-key"
    assert len(runtime.connector_key) >= 32 and key_file.stat().st_mode & 0o077 == 0
    assert runtime.connector_key not in runtime.log.read_text()
    listed = json.dumps(call("GET", f"{runtime.gateway}/system/functions").json())
    assert runtime.connector_key not in listed


def hand_call(runtime: LocalRuntime, secrets_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECRETS_DIR": str(secrets_dir), "CONNECTOR_KEY": "",
           "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("functions/common", "infra/local"))}
    return subprocess.run([sys.executable, "-m", "localfaas.call", *args, "--gateway", runtime.gateway], env=env,
                          capture_output=True, text=True, timeout=60)


def test_an_operator_signs_a_call_by_hand_with_the_key_in_the_secrets_folder(runtime: LocalRuntime,
                                                                              tmp_path: Path) -> None:
    done = hand_call(runtime, runtime.workdir / "secrets", "POST", "context-poll")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"weather", "air_quality", "carbon_intensity", "electricity_price"}
    refused = hand_call(runtime, runtime.workdir / "secrets", "POST", "retention-archive/run?dry_run=1")
    assert refused.returncode == 1 and "archive_not_configured" in refused.stdout  # signed, and answered
    keyless = hand_call(runtime, tmp_path, "POST", "context-poll")
    assert keyless.returncode == 2 and "no connector-key" in keyless.stderr
