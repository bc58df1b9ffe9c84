"""The gateway-bridge as a supervised child of the local runtime, started when HA_URL is set.

It is not a function (it holds a WebSocket open for ever), so it runs beside them: restarted with
backoff (1 s doubling to 60 s) if it dies, except after exit code 78, which means its configuration
or token is wrong: restarting would only repeat the failure, so the runtime says so and leaves it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingestor import config, metrics
from localfaas.procs import child_preexec

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[3]
_restarts = metrics.counter("bridge_process_restarts_total", "gateway-bridge processes restarted after exiting")


class BridgeProcess:
    def __init__(self, nats_url: str, data_dir: Path, secrets_dir: Path, port: int) -> None:
        self.nats_url = nats_url
        self.data_dir = data_dir
        self.secrets_dir = secrets_dir
        self.port = port  # its health port, reserved by the runtime (localfaas.ports) while it runs
        self.proc: subprocess.Popen[bytes] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def _spawn(self) -> None:
        paths = [str(REPO / "functions" / "common"), str(REPO / "gateway-bridge"), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "NATS_URL": self.nats_url, "SECRETS_DIR": str(self.secrets_dir),
               "BRIDGE_SPOOL_DIR": os.environ.get("BRIDGE_SPOOL_DIR") or str(self.data_dir / "bridge"),
               "BRIDGE_HEALTH_HOST": "127.0.0.1", "BRIDGE_HEALTH_PORT": str(self.port),
               "PYTHONPATH": os.pathsep.join(p for p in paths if p), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "ha_bridge"], env=env, preexec_fn=child_preexec,
                                     start_new_session=True)

    async def start(self) -> None:
        self._spawn()
        self._watcher = asyncio.create_task(self._keep_alive())
        log.info("gateway-bridge started", extra={"health": self.health_url})

    async def _keep_alive(self) -> None:
        backoff, started = 1.0, time.monotonic()
        while not self._stopping:
            await asyncio.sleep(0.2)
            if self.proc is None or self.proc.poll() is None:
                continue
            code = self.proc.returncode
            if code == config.EXIT_CONFIG:
                log.error("gateway-bridge stopped on a configuration or token error (see its log); fix it and "
                          "restart the runtime", extra={"code": code})
                return
            backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 60.0)
            log.warning("gateway-bridge exited; restarting", extra={"code": code, "in_s": backoff})
            await asyncio.sleep(backoff)
            if not self._stopping:
                _restarts.inc()
                self._spawn()
                started = time.monotonic()

    async def stop(self, grace: float = 20) -> None:
        """SIGTERM lets the bridge flush and spool what is in flight; SIGKILL only after `grace`."""
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def start_if_configured(nats_url: str, data_dir: Path, secrets_dir: Path,
                              port: int | None) -> BridgeProcess | None:
    """The running bridge when HA_URL is set (its health on `port`), else None (the runtime works without HA)."""
    if not os.environ.get("HA_URL") or port is None:
        log.info("HA_URL not set: gateway-bridge not started")
        return None
    bridge = BridgeProcess(nats_url, data_dir, secrets_dir, port)
    await bridge.start()
    return bridge
