"""Runs each function of the stack as its own process through the template entry; restarts crashes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from ingestor import metrics
from localfaas.natsserver import free_port
from localfaas.procs import child_preexec
from localfaas.stack import FunctionSpec, Stack

log = logging.getLogger("supervisor")
REPO = Path(__file__).resolve().parents[3]
TEMPLATE_ENTRY = REPO / "templates" / "python3-ingestor" / "index.py"
_restarts = metrics.counter("function_restarts_total", "Function processes restarted after exiting", ["function"])


@dataclass
class FunctionProcess:
    spec: FunctionSpec
    port: int
    proc: subprocess.Popen[bytes] | None = None
    ready: bool = False
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = field(default=0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Supervisor:
    def __init__(self, stack: Stack, env: dict[str, str], secrets_dir: Path) -> None:
        self.stack = stack
        self.env = env
        self.secrets_dir = secrets_dir
        self.functions = {name: FunctionProcess(spec, free_port()) for name, spec in stack.functions.items()}
        self._stopping = False
        self._watchers: list[asyncio.Task[None]] = []

    def _environment(self, fn: FunctionProcess) -> dict[str, str]:
        shared = [str(p) for p in self.stack.copy] + [os.environ.get("PYTHONPATH", "")]
        return {
            **os.environ,
            **self.env,
            **fn.spec.environment,
            "FUNCTION_NAME": fn.spec.name,
            "FUNCTION_ROOT": str(fn.spec.handler),
            "PORT": str(fn.port),
            "SECRETS_DIR": str(self.secrets_dir),
            "PYTHONPATH": os.pathsep.join(p for p in shared if p),
            "PYTHONUNBUFFERED": "1",
        }

    def _spawn(self, fn: FunctionProcess) -> None:
        missing = [s for s in fn.spec.secrets if not (self.secrets_dir / s).is_file()]
        if missing:
            log.warning("secrets missing", extra={"function": fn.spec.name, "secrets": missing})
        fn.proc = subprocess.Popen([sys.executable, str(TEMPLATE_ENTRY)], env=self._environment(fn),
                                   preexec_fn=child_preexec, start_new_session=True)
        fn.ready = False
        fn.started_at = time.monotonic()

    async def _wait_ready(self, session: aiohttp.ClientSession, fn: FunctionProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if fn.proc is None or fn.proc.poll() is not None:
                return
            try:
                async with session.get(f"{fn.url}/_/ready", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        fn.ready = True
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)

    async def start(self, timeout: float = 30) -> None:
        for fn in self.functions.values():
            self._spawn(fn)
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self._wait_ready(session, fn, timeout) for fn in self.functions.values()))
        not_ready = [n for n, fn in self.functions.items() if not fn.ready]
        if not_ready:
            raise RuntimeError(f"functions did not become ready: {', '.join(not_ready)}")
        self._watchers = [asyncio.create_task(self._keep_alive(fn)) for fn in self.functions.values()]

    async def _keep_alive(self, fn: FunctionProcess) -> None:
        """Restart `fn` whenever it exits: backoff 0.5 s doubling to 10 s, reset after 60 s up."""
        async with aiohttp.ClientSession() as session:
            while not self._stopping:
                await asyncio.sleep(0.1)
                if fn.proc is None or fn.proc.poll() is None:
                    continue
                fn.ready = False
                fn.backoff = 0.5 if time.monotonic() - fn.started_at > 60 else min(fn.backoff * 2, 10)
                log.warning("function exited; restarting",
                            extra={"function": fn.spec.name, "code": fn.proc.returncode, "in_s": fn.backoff})
                await asyncio.sleep(fn.backoff)
                if self._stopping:
                    return
                fn.restarts += 1
                _restarts.labels(fn.spec.name).inc()
                self._spawn(fn)
                await self._wait_ready(session, fn, 30)

    async def stop(self, grace: float = 10) -> None:
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        running = [fn.proc for fn in self.functions.values() if fn.proc and fn.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in running:
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
