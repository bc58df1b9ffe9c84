"""An HA without the history and logbook integrations (a minimal configuration): the bridge captures live all
the same, says once what a gap will lose, reports itself degraded (in its /health and the health function's),
and after a restart resumes capturing within seconds instead of failing on the backfill it cannot do."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bridge.streamreader import StreamReader, probe_value
from tests.health.support import component, health_url, status
from tests.support.homeassistant import CONFIG_TEMPLATE, HomeAssistant, ensure_venv
from tests.support.http import call
from tests.support.jetstream import queue_with_validate
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime, stack_of

pytestmark = pytest.mark.integration


def minimal_config(config_dir: Path, port: int) -> None:
    """The tests' configuration without history, logbook and recorder."""
    text = CONFIG_TEMPLATE.read_text().replace("__PORT__", str(port))
    for block in ("history:\n", "logbook:\n", "recorder:\n  commit_interval: 1\n"):
        assert block in text
        text = text.replace(block, "")
    (config_dir / "configuration.yaml").write_text(text)


@pytest.fixture(scope="module")
def minimal_ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    ensure_venv()
    instance = HomeAssistant(tmp_path_factory.mktemp("minimal-ha") / "config", write_config=minimal_config).start()
    yield instance
    instance.stop()


def bridge_health(runtime: LocalRuntime, replica: int) -> dict[str, Any]:
    try:
        return call("GET", runtime.ready["bridges"][replica], timeout=3).json()
    except OSError:
        return {}


def bridge_log(runtime: LocalRuntime) -> list[dict[str, Any]]:
    lines = []
    for raw in runtime.log.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("service") == "gateway-bridge":
            lines.append(line)
    return lines


def test_without_history_and_logbook_the_bridge_captures_reports_degraded_and_resumes_after_a_restart(
        minimal_ha: HomeAssistant, tmp_path: Path) -> None:
    ha = minimal_ha
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ha-token").write_text(ha.token or "")
    env = {"HA_URL": ha.url, "HEALTH_CACHE_S": "0.2", "BRIDGE_RECONNECT_MAX_S": "4"}
    with LocalRuntime(tmp_path, stack=stack_of(tmp_path / "stack.yml", ("health",)), env=env) as runtime:
        queue_with_validate(runtime.nats_url)  # no validate runs here: a consumer of raw events in its place
        assert wait_for(lambda: all(bridge_health(runtime, i).get("subscribed") for i in (0, 1)), 60)
        stream = StreamReader(runtime.nats_url)
        try:
            degraded = bridge_health(runtime, 0)
            assert degraded["status"] == "degraded" and degraded["connected"] is True
            assert degraded["backfill_sources"] == {"history": False, "logbook": False}
            assert [w.split(":")[0] for w in degraded["warnings"]] == [
                "HA has no history integration", "HA has no logbook integration"]
            bridge = wait_for(lambda: (c := component(status(health_url(runtime)), "bridge"))
                              and c["status"] == "degraded" and c, 30)
            assert bridge, component(status(health_url(runtime)), "bridge")
            assert sorted(r.split(":")[0] for r in bridge["reasons"] if "history integration" in r) == [
                "bridge-1", "bridge-2"]

            live = ha.probe_changes(5)
            assert wait_for(lambda: {probe_value(e) for e in stream.probe_events()} >= set(live), 20)

            pid = runtime.bridge_pid("bridge-1")
            assert pid
            os.kill(pid, signal.SIGKILL)  # a gap: HA cannot give it back; the bridge must not stop over it
            during = ha.probe_changes(3)
            assert wait_for(lambda: runtime.bridge_pid("bridge-1") not in (None, pid), 30)
            restarted = time.monotonic()
            assert wait_for(lambda: bridge_health(runtime, 0).get("subscribed"), 30)
            resumed_after = time.monotonic() - restarted
            received = sample(f"{runtime.ready['bridges'][0].removesuffix('/health')}/metrics",
                              "ha_ingestor_bridge_events_received_total", source="live")
            after = ha.probe_changes(5)
            assert wait_for(lambda: sample(f"{runtime.ready['bridges'][0].removesuffix('/health')}/metrics",
                                           "ha_ingestor_bridge_events_received_total", source="live")
                            >= received + 10, 10), "the restarted replica does not capture"
            time.sleep(4)  # a backfill that dropped the connection would have made it reconnect by now
            again = bridge_health(runtime, 0)
            assert again["connected"] is True and again["reconnect_count"] == 0, again
            assert again["backfill"]["pending_gaps"] == 0 and again["status"] == "degraded"
            assert resumed_after < 10, f"capture resumed {resumed_after:.1f} s after the restart"

            values = {probe_value(e) for e in stream.probe_events()}
            assert set(during) <= values, "the other replica captured the gap live"
            assert set(after) <= values
            marks = [e for e in stream.raw_events() if e["event_type"] in ("ha_disconnected", "ha_reconnected")]
            assert sorted(e["event_type"] for e in marks) == ["ha_disconnected", "ha_reconnected"]
            assert {e["data"]["observed_by"] for e in marks} == {"bridge-1"}
            assert marks[0]["data"]["gap_start"] < marks[0]["data"]["gap_end"]
        finally:
            stream.close()
    warnings = [line["msg"] for line in bridge_log(runtime) if line["level"] == "warning"]
    for integration in ("history", "logbook"):  # once per process start, not once per reconnect
        assert sum(f"HA has no {integration} integration" in w for w in warnings) == 3, warnings
