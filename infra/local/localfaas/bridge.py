"""The gateway-bridge replicas as supervised children of the local runtime, started when HA_URL is set.

A bridge is not a function (it holds a WebSocket open for ever), so it runs beside them. Two replicas by
default (BRIDGE_REPLICAS): both capture every event, with deterministic ids and batches, so when one is
killed the other has already forwarded what happens meanwhile, call_service included, and nothing reaches
the store or a webhook twice (gateway-bridge/README.md). Each has its own spool and state directory
(`.data/bridge` for the first, as with one replica, `.data/bridge-2` for the second) and health port. Each
is restarted with backoff (1 s doubling to 60 s) if it dies, except after exit code 78, which means its
configuration or token is wrong: restarting would only repeat the failure, so the runtime says so.
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
from localfaas import ports
from localfaas.procs import child_preexec

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[3]
_restarts = metrics.counter("bridge_process_restarts_total", "gateway-bridge processes restarted after exiting",
                            ["replica"])
DEFAULT_REPLICAS = 2


class BridgeProcess:
    def __init__(self, nats_url: str, spool_dir: Path, secrets_dir: Path, port: int, replica: str) -> None:
        self.nats_url = nats_url
        self.spool_dir = spool_dir
        self.secrets_dir = secrets_dir
        self.port = port  # its health port, reserved by the runtime (localfaas.ports) while it runs
        self.replica = replica
        self.proc: subprocess.Popen[bytes] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def _spawn(self) -> None:
        paths = [str(REPO / "functions" / "common"), str(REPO / "gateway-bridge"), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "NATS_URL": self.nats_url, "SECRETS_DIR": str(self.secrets_dir),
               "BRIDGE_SPOOL_DIR": str(self.spool_dir), "BRIDGE_REPLICA": self.replica,
               "BRIDGE_HEALTH_HOST": "127.0.0.1", "BRIDGE_HEALTH_PORT": str(self.port),
               "PYTHONPATH": os.pathsep.join(p for p in paths if p), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "ha_bridge"], env=env, preexec_fn=child_preexec,
                                     start_new_session=True)

    async def start(self) -> None:
        self._spawn()
        self._watcher = asyncio.create_task(self._keep_alive())
        log.info("gateway-bridge started", extra={"replica": self.replica, "health": self.health_url})

    async def _keep_alive(self) -> None:
        backoff, started = 1.0, time.monotonic()
        while not self._stopping:
            await asyncio.sleep(0.2)
            if self.proc is None or self.proc.poll() is None:
                continue
            code = self.proc.returncode
            if code == config.EXIT_CONFIG:
                log.error("gateway-bridge stopped on a configuration or token error (see its log); fix it and "
                          "restart the runtime", extra={"replica": self.replica, "code": code})
                return
            backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 60.0)
            log.warning("gateway-bridge exited; restarting",
                        extra={"replica": self.replica, "code": code, "in_s": backoff})
            await asyncio.sleep(backoff)
            if not self._stopping:
                _restarts.labels(self.replica).inc()
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


class Bridges:
    """Every replica the runtime runs, with the health ports it reserved for them."""

    def __init__(self, replicas: list[BridgeProcess], reservations: list[ports.Reservation]) -> None:
        self.replicas = replicas
        self._reservations = reservations

    @property
    def health_urls(self) -> list[str]:
        return [r.health_url for r in self.replicas]

    async def start(self) -> None:
        for replica in self.replicas:
            await replica.start()

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.replicas))
        for reservation in self._reservations:
            reservation.release()


def plan(nats_url: str, data_dir: Path, secrets_dir: Path) -> Bridges | None:
    """The replicas to run when HA_URL is set (BRIDGE_REPLICAS, 2), their ports reserved; else None (the
    runtime works without HA). BRIDGE_HEALTH_PORT, if set, is the first replica's port, the next ones follow;
    BRIDGE_SPOOL_DIR, if set, is the first replica's directory, `<dir>-2` the second's."""
    if not os.environ.get("HA_URL"):
        log.info("HA_URL not set: gateway-bridge not started")
        return None
    count = max(config.env_int("BRIDGE_REPLICAS", DEFAULT_REPLICAS), 1)
    first_port = config.env_int("BRIDGE_HEALTH_PORT", 0)
    spool = Path(os.environ.get("BRIDGE_SPOOL_DIR") or data_dir / "bridge")
    reservations = [ports.Reservation(port=first_port + i if first_port else 0) for i in range(count)]
    replicas = [BridgeProcess(nats_url, spool if i == 0 else spool.with_name(f"{spool.name}-{i + 1}"), secrets_dir,
                              reservation.port, f"bridge-{i + 1}")
                for i, reservation in enumerate(reservations)]
    return Bridges(replicas, reservations)
