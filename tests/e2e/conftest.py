"""One sandbox home (the demo's real HA 2024.3.3) and one local stack against it, for the whole module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo import home
from demo.readiness import bridge_subscribed
from tests.e2e.reads import QueryAPI
from tests.support.homeassistant import HomeAssistant, ensure_venv
from tests.support.runtime import LocalRuntime, stack_of

# Every stage between HA and the query API, configured exactly as stack.yml configures them.
STAGES = ("validate", "normalize", "weather-enrich", "write", "metadata-sync", "query")


@dataclass
class Sandbox:
    ha: HomeAssistant
    runtime: LocalRuntime
    workdir: Path

    @property
    def query_url(self) -> str:
        return f"{self.runtime.gateway}/function/query"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    ensure_venv()
    workdir = tmp_path_factory.mktemp("e2e")
    ha = HomeAssistant(workdir / "homeassistant", write_config=home.write_config).start(timeout=180)
    runtime: LocalRuntime | None = None
    try:
        (workdir / "secrets").mkdir()
        (workdir / "secrets" / "ha-token").write_text(ha.token or "")
        runtime = LocalRuntime(workdir, stack=stack_of(workdir / "stack.e2e.yml", STAGES),
                               env={"HA_URL": ha.url, "BRIDGE_BATCH_MS": "50"})
        runtime.start(timeout=180)
        deadline = time.monotonic() + 60
        while not bridge_subscribed(runtime.ready["bridge"]):
            assert time.monotonic() < deadline, "the bridge did not subscribe to HA within 60 s"
            time.sleep(0.2)
        sandbox = Sandbox(ha, runtime, workdir)
        # The driven steps start once HA's registry is in the metadata DB, as in `make demo`: events that beat
        # the first snapshot carry no area (normalize looks again for an unknown entity at most once a second).
        api = QueryAPI(sandbox.query_url)
        while len(api.get("/devices", limit=100)["items"]) < len(home.DEVICES):
            assert time.monotonic() < deadline + 60, "HA's devices did not reach the metadata DB"
            time.sleep(0.2)
        time.sleep(1.5)
        yield sandbox
    finally:
        if runtime is not None:
            runtime.stop()
        ha.stop()
