"""The bridge as health sees it, with a real Home Assistant: ok while connected, degraded while it
reconnects after HA went away, unhealthy once that lasts longer than the grace period (5 s here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.health.support import component, get, health_url, status
from tests.support.homeassistant import HomeAssistant, ensure_venv
from tests.support.jetstream import queue_with_validate
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.bridge.yml"


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    ensure_venv()
    instance = HomeAssistant(tmp_path_factory.mktemp("homeassistant") / "config").start()
    yield instance
    instance.stop()


def test_the_bridge_is_ok_then_reconnecting_then_unhealthy_when_ha_goes_away(ha: HomeAssistant,
                                                                             tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ha-token").write_text(ha.token or "")
    # one replica: this is the timeline of one bridge's status (replicas are combined by rules.bridges)
    with LocalRuntime(tmp_path, stack=STACK, env={"HA_URL": ha.url, "BRIDGE_REPLICAS": "1"}) as runtime:
        queue_with_validate(runtime.nats_url)  # no validate runs here: a consumer of raw events in its place
        url = health_url(runtime)
        body = wait_for(lambda: (b := status(url)) and component(b, "bridge")["status"] == "ok" and b, 60)
        assert body, component(status(url), "bridge")
        assert body["status"] == "ok"
        bridge = component(body, "bridge")
        assert bridge["details"]["connected"] is True and bridge["details"]["ha_url"].endswith(f"127.0.0.1:{ha.port}")
        answers = b"".join(get(url, p).body for p in ("/", "/config", "/pipeline"))
        assert (ha.token or "").encode() not in answers

        ha.stop()
        reconnecting = wait_for(lambda: (c := component(status(url), "bridge"))["status"] != "ok" and c, 30)
        assert reconnecting["status"] == "degraded", reconnecting
        assert reconnecting["reasons"][0].startswith("reconnecting to Home Assistant")
        down = wait_for(lambda: (c := component(status(url), "bridge"))["status"] == "unhealthy" and c, 30)
        assert down, component(status(url), "bridge")
        assert down["reasons"][0].startswith("Home Assistant not connected for ")
        assert down["reasons"][0].endswith("check HA_URL and the token in the ha-token secret (HA_TOKEN)")
        assert status(url)["status"] == "unhealthy"
        assert (ha.token or "").encode() not in runtime.log.read_bytes()
