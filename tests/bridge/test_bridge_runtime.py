"""`make run` with HA_URL set: the local runtime supervises the bridge, and HA's changes flow through the stages."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from ingestor import subjects
from ingestor.metadata.registry import MetadataDB
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.bridge.streamreader import PROBE
from tests.support.homeassistant import HomeAssistant
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_until
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration


def subscribed(health_url: str) -> bool:
    try:
        return bool(call("GET", health_url, timeout=2).json().get("subscribed"))
    except OSError:
        return False


def test_the_runtime_starts_the_bridge_and_ha_changes_arrive_normalized(ha: HomeAssistant, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ha-token").write_text(ha.token or "")
    with LocalRuntime(tmp_path, env={"HA_URL": ha.url, "BRIDGE_BATCH_MS": "50"}) as runtime:
        health_url = runtime.ready["bridge"]
        assert health_url, "the runtime did not start the bridge although HA_URL is set"
        # Every replica, not only the first: a replica still subscribing misses the first changes, so it cuts the
        # window they share into a batch of other events than its peer's, and both batches go on (by design,
        # gateway-bridge/README.md "Two replicas"; the store keeps one copy of each event).
        replicas = runtime.ready["bridges"]
        wait_until(lambda: all(subscribed(url) for url in replicas), 30, "every bridge replica subscribed to HA")
        js = JetStreamClient(runtime.nats_url)  # observing before the changes: the queue keeps them for the test
        values = ha.probe_changes(10)
        try:
            def normalized() -> list[float]:
                return [e["state_value"] for e in js.events(subjects.NORMALIZED)
                        if e["event_type"] == "state_changed" and e["entity_id"] == PROBE]
            arrived = wait_until(lambda: len(n := normalized()) >= len(values) and n, 30, "normalized events")
        finally:
            js.close()
        assert sorted(arrived) == [float(v) for v in values]
        # ...and on through enrichment into the store, with HA's registry in the metadata DB.
        store = open_event_store(f"sqlite:///{tmp_path}/data/events.db")
        changes = EventFilter(entity_id=PROBE, event_type="state_changed")
        wait_until(lambda: store.count(changes) >= len(values), 30, "stored events")
        assert store.count(changes) == len(values)  # each once, whichever replica's copy came first
        metadata = MetadataDB(f"sqlite:///{tmp_path}/data/metadata.db")
        wait_until(lambda: metadata.health().get("entities", 0) > 0, 30, "registry in the metadata DB")
        assert metadata.ha_config()["state"] == "RUNNING"
        assert "latitude" in metadata.ha_config()
        js = JetStreamClient(runtime.nats_url)
        try:
            assert [m for m in js.messages(subjects.DLQ) if m["stage"] == "metadata-sync"] == []
        finally:
            js.close()
    with pytest.raises(OSError):  # stopping the runtime stopped the bridge too
        urllib.request.urlopen(health_url, timeout=2)
