"""The bridge as users run it (`python -m ha_bridge`), in a temp dir, with its health port and logs at hand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localfaas import ports
from tests.support.http import call
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import REPO

# Short timings so outages resolve within a test's budget; production defaults are in settings.py.
TEST_ENV = {
    "BRIDGE_BATCH_SIZE": "100",
    "BRIDGE_BATCH_MS": "50",
    "BRIDGE_PING_INTERVAL_S": "2",
    "BRIDGE_PING_TIMEOUT_S": "3",
    "BRIDGE_RECONNECT_MIN_S": "1",
    "BRIDGE_RECONNECT_MAX_S": "4",
    "BRIDGE_BACKFILL_RECHECK_S": "3",
    "BRIDGE_REGISTRY_DEBOUNCE_S": "1",
    "BRIDGE_ACK_TIMEOUT_S": "2",
    "BRIDGE_HEALTH_HOST": "127.0.0.1",
    "LOG_LEVEL": "DEBUG",
}


class BridgeProcess:
    def __init__(self, workdir: Path, ha_url: str, nats_url: str, token: str | None,
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.secrets = workdir / "secrets"
        self.secrets.mkdir(parents=True, exist_ok=True)
        if token is not None:
            (self.secrets / "ha-token").write_text(token + "\n")
        self._reserved = ports.reserve()  # held while this bridge may (re)bind it
        self.port = self._reserved.port
        self.log_path = workdir / "bridge.log"
        self.env = {
            **TEST_ENV,
            "HA_URL": ha_url,
            "NATS_URL": nats_url,
            "SECRETS_DIR": str(self.secrets),
            "BRIDGE_SPOOL_DIR": str(workdir / "spool"),
            "BRIDGE_HEALTH_PORT": str(self.port),
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BridgeProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("HA_TOKEN", "HA_URL")}
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join(str(REPO / p) for p in ("functions/common", "gateway-bridge"))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "ha_bridge"], env=env, stdout=log, stderr=log,
                                         start_new_session=True)
        return self

    def health(self) -> dict[str, Any]:
        try:
            return call("GET", f"{self.url}/health", timeout=5).json()
        except OSError:
            return {}

    def wait_connected(self, timeout: float = 30) -> dict[str, Any]:
        """Until the bridge is connected, subscribed, and NATS took its first publish."""
        health = wait_for(lambda: (h := self.health()).get("subscribed") and h.get("nats_connected") and h, timeout)
        assert health, f"bridge not connected within {timeout}s: {self.health()} {self.log_tail()}"
        return health

    def metric(self, name: str, **labels: str) -> float:
        return sample(f"{self.url}/metrics", name, **labels)

    def logs(self) -> list[dict[str, Any]]:
        """The bridge's JSON log lines (anything else it printed is kept as {"raw": line})."""
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"raw": line})
        return lines

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


BridgeFactory = Callable[..., BridgeProcess]
