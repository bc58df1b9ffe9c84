"""metadata-sync scales to zero (stack.yml's labels): a registry snapshot published while it is at zero starts it
through the gateway and is applied once; a start that fails leaves the snapshot in the queue until a start
succeeds. The real stack.yml's metadata-sync, run by the local runtime with its nats-server."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ingestor import subjects
from ingestor.metadata.registry import MetadataDB
from tests.metadata.test_metadata import snapshot
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for, wait_until
from tests.support.runtime import REPO, LocalRuntime, stack_of

pytestmark = pytest.mark.integration

NAME = "metadata-sync"
CONSUMER = "metadata-sync--ha_registry"


@pytest.fixture
def handler(tmp_path: Path) -> Path:
    """A copy of metadata-sync's folder, so a test can take its handler away."""
    return Path(shutil.copytree(REPO / "functions" / NAME, tmp_path / NAME))


@pytest.fixture
def runtime(tmp_path: Path, handler: Path) -> Iterator[LocalRuntime]:
    path = stack_of(tmp_path / "stack.yml", (NAME,))
    stack = yaml.safe_load(path.read_text())
    stack["functions"][NAME]["handler"] = str(handler)
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    (tmp_path / "rt").mkdir()
    with LocalRuntime(tmp_path / "rt", stack=path, env={"SCALE_ZERO_DURATION": "2s"}) as rt:
        yield rt


@pytest.fixture
def js(runtime: LocalRuntime) -> Iterator[JetStreamClient]:
    client = JetStreamClient(runtime.nats_url)
    yield client
    client.close()


def replicas(runtime: LocalRuntime) -> int:
    return call("GET", f"{runtime.gateway}/system/function/{NAME}").json()["replicas"]


def invocations(runtime: LocalRuntime) -> int:
    """Calls the gateway forwarded to the function (a 503 for a failed start is not one)."""
    return call("GET", f"{runtime.gateway}/system/function/{NAME}").json()["invocationCount"]


def delivered(runtime: LocalRuntime, outcome: str) -> float:
    return sample(f"{runtime.gateway}/metrics", "ha_ingestor_connector_messages_total", function=NAME,
                  topic=subjects.REGISTRY, outcome=outcome)


def devices(runtime: LocalRuntime) -> int:
    return MetadataDB(f"sqlite:///{runtime.workdir}/data/metadata.db").health().get("devices") or 0


def test_a_snapshot_published_while_metadata_sync_is_at_zero_starts_it_and_is_applied_once(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    assert NAME in runtime.ready["scaled_to_zero"] and replicas(runtime) == 0
    js.publish_batch(subjects.REGISTRY, "at-zero", snapshot("snap-at-zero"))
    assert wait_for(lambda: devices(runtime) == 1, 60)
    wait_until(lambda: js.backlog(CONSUMER) == (0, 0), 15, "the snapshot acknowledged")
    wait_until(lambda: replicas(runtime) == 0, 15, "metadata-sync stopped again 2 s after the call")
    assert (invocations(runtime), delivered(runtime, "acked"), delivered(runtime, "unavailable")) == (1, 1, 0)
    assert [m for m in js.messages(subjects.DLQ) if m["stage"] == NAME] == []


def test_a_snapshot_whose_start_fails_waits_in_the_queue_and_is_applied_once_a_start_succeeds(
        runtime: LocalRuntime, js: JetStreamClient, handler: Path) -> None:
    (handler / "handler.py").rename(handler / "handler.py.away")  # every start fails: "no handler.py"
    js.publish_batch(subjects.REGISTRY, "start-fails", snapshot("snap-start-fails"))
    wait_until(lambda: delivered(runtime, "unavailable") >= 2, 30, "the gateway's 503 retried by the connector")
    assert devices(runtime) == 0 and invocations(runtime) == 0
    assert js.backlog(CONSUMER) != (0, 0)  # still in the queue, not acknowledged, not dead-lettered
    (handler / "handler.py.away").rename(handler / "handler.py")
    assert wait_for(lambda: devices(runtime) == 1, 60)
    wait_until(lambda: js.backlog(CONSUMER) == (0, 0), 15, "the snapshot acknowledged")
    time.sleep(2)  # a second delivery would show here
    assert (invocations(runtime), delivered(runtime, "acked")) == (1, 1)
    assert [m for m in js.messages(subjects.DLQ) if m["stage"] == NAME] == []
