"""Runs each function of the stack as its own process through the template entry; restarts crashes.

Each function gets a port reserved for the runtime's lifetime (localfaas.ports), so no other process,
function or not, is handed it, and a restart finds it free. A function is ready only when its port
answers /_/ready with the function's own name: whatever else answers there never counts. A function
that does not come up is restarted with backoff (0.5 s doubling to a minute); the runtime says why once
per failure streak, reports it not ready meanwhile, and says so again when it recovers. A function that
is running but hung (it timed out `com.ha-ingestor.restart-after-timeouts` calls in a row, 3 by
default, 0 never) is killed and restarted the same way: a process that never answers never recovers.
Only the functions that are wanted run: `start` names them, `start_function` and `stop_function` start and
stop one (localfaas.scaletozero scales functions to and from zero with them).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

from ingestor import metrics
from localfaas.ports import Reservation, reserve
from localfaas.procs import child_preexec
from localfaas.stack import FunctionSpec, Stack

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[3]
TEMPLATE_ENTRY = REPO / "templates" / "python3-ingestor" / "index.py"
READY_TIMEOUT_S = 30
BACKOFF_CAP_S = 60.0
RESTART_AFTER_TIMEOUTS = "3"
_restarts = metrics.counter("function_restarts_total", "Function processes restarted after exiting", ["function"])


@dataclass
class FunctionProcess:
    spec: FunctionSpec
    reservation: Reservation
    proc: subprocess.Popen[bytes] | None = None
    wanted: bool = False  # should run: kept running (restarted when it exits) until stopped
    ready: bool = False
    problem: str | None = None  # why it is not ready, once it failed to come up
    restarts: int = 0
    timeouts: int = 0  # calls in a row that got no answer in time
    started_at: float = 0.0
    backoff: float = 0.5
    last_words: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=1))
    stderr_reader: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.reservation.port

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def exit_reason(self) -> str:
        """The exit code and the last line the process wrote to stderr (a traceback's last line says why)."""
        assert self.proc is not None
        if self.stderr_reader is not None:
            await asyncio.to_thread(self.stderr_reader.join, 1)
        last = f": {self.last_words[0]}" if self.last_words else ""
        return f"exited with code {self.proc.returncode}{last}"


LineSink = Callable[[str, bytes], None]


def _relay(stream: IO[bytes], last_words: collections.deque[str], name: str, sink: LineSink | None) -> None:
    """Passes a child's stderr through, keeping its last line: why it exited, if it did."""
    for line in stream:
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
        if sink is not None:
            sink(name, line)
        if line.strip():
            last_words.append(line.decode("utf-8", "replace").strip()[:500])
    stream.close()


class Supervisor:
    def __init__(self, stack: Stack, env: dict[str, str], secrets_dir: Path, log_sink: LineSink | None = None) -> None:
        self.stack = stack
        self.log_sink = log_sink  # also handed each line a function writes (the provider's /system/logs)
        self.env = env
        self.secrets_dir = secrets_dir
        self.functions = {name: FunctionProcess(spec, reserve()) for name, spec in stack.functions.items()}
        self._stopping = False
        self._watchers: list[asyncio.Task[None]] = []

    @property
    def not_ready(self) -> dict[str, str]:
        return {name: fn.problem or "starting" for name, fn in self.functions.items() if fn.wanted and not fn.ready}

    def timed_out(self, name: str) -> None:
        """A call got no answer in time; after too many in a row the process is taken for hung and killed
        (its keep-alive restarts it)."""
        fn = self.functions[name]
        fn.timeouts += 1
        limit = int(fn.spec.setting("restart-after-timeouts", RESTART_AFTER_TIMEOUTS))
        if limit <= 0 or fn.timeouts < limit or fn.proc is None or fn.proc.poll() is not None:
            return
        reason = f"timed out {fn.timeouts} calls in a row"
        log.error("function hung; restarting it", extra={"function": name, "reason": reason})
        fn.timeouts, fn.ready, fn.problem = 0, False, reason
        fn.proc.kill()

    def answered(self, name: str) -> None:
        self.functions[name].timeouts = 0

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
                                   stderr=subprocess.PIPE, preexec_fn=child_preexec, start_new_session=True)
        assert fn.proc.stderr is not None
        fn.last_words.clear()
        fn.stderr_reader = threading.Thread(
            target=_relay, args=(fn.proc.stderr, fn.last_words, fn.spec.name, self.log_sink),
            name=f"stderr-{fn.spec.name}", daemon=True)
        fn.stderr_reader.start()
        fn.ready = False
        fn.started_at = time.monotonic()

    async def _answers_as(self, session: aiohttp.ClientSession, fn: FunctionProcess) -> str | None:
        """The function name the port answers /_/ready with, if anything answers."""
        try:
            async with session.get(f"{fn.url}/_/ready", timeout=aiohttp.ClientTimeout(total=1)) as r:
                if r.status != 200:
                    return None
                answer = await r.json(content_type=None)
                return str(answer.get("function")) if isinstance(answer, dict) else repr(answer)[:100]
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def _wait_ready(self, session: aiohttp.ClientSession, fn: FunctionProcess, timeout: float) -> str | None:
        """None once `fn` answers as itself; else why not (it exited, or never answered as itself)."""
        deadline = time.monotonic() + timeout
        impostor = None
        while time.monotonic() < deadline:
            if fn.proc is None or fn.proc.poll() is not None:
                return await fn.exit_reason() if fn.proc else "not started"
            answered = await self._answers_as(session, fn)
            if answered == fn.spec.name:
                fn.ready = True
                return None
            impostor = answered or impostor
            await asyncio.sleep(0.05)
        if impostor:
            return f"port {fn.port} is answered by {impostor!r}, not by this function"
        return f"did not answer /_/ready within {timeout:g} s"

    def _report(self, fn: FunctionProcess, reason: str | None) -> None:
        """Say why a function is not ready once per failure streak, and when it is ready again."""
        if reason is None:
            if fn.problem is not None:
                log.info("function ready again", extra={"function": fn.spec.name, "restarts": fn.restarts})
            fn.problem = None
            return
        if fn.problem is None:
            log.error("function not ready; restarting it with backoff until it is",
                      extra={"function": fn.spec.name, "reason": reason})
        fn.problem = reason

    async def start(self, timeout: float = READY_TIMEOUT_S, names: Iterable[str] | None = None) -> None:
        """Starts the functions named (default: all) and waits until each is ready or has failed once;
        `not_ready` says which. The others wait for `start_function`."""
        starting = [self.functions[name] for name in (self.functions if names is None else names)]
        for fn in starting:
            fn.wanted = True
            self._spawn(fn)
        async with aiohttp.ClientSession() as session:
            reasons = await asyncio.gather(*(self._wait_ready(session, fn, timeout) for fn in starting))
        for fn, reason in zip(starting, reasons, strict=True):
            self._report(fn, reason)
        self._watchers = [asyncio.create_task(self._keep_alive(fn)) for fn in self.functions.values()]

    def spec_of(self, name: str) -> FunctionSpec | None:
        fn = self.functions.get(name)
        return fn.spec if fn else None

    def is_running(self, name: str) -> bool:
        """Scaled up: started and not stopped since, even while a crashed process waits for its restart."""
        return self.functions[name].wanted

    async def start_function(self, name: str, timeout: float = READY_TIMEOUT_S) -> str | None:
        """Starts `name` unless it runs, and waits until it answers: None, else why not. It stays wanted
        either way, so a start that failed is retried with backoff like any crash."""
        fn = self.functions[name]
        fn.wanted = True
        if fn.ready and fn.running:
            return None
        if not fn.running:
            self._spawn(fn)
        async with aiohttp.ClientSession() as session:
            reason = await self._wait_ready(session, fn, timeout)
        self._report(fn, reason)
        return reason

    async def stop_function(self, name: str, grace: float = 10) -> None:
        fn = self.functions[name]
        fn.wanted, fn.ready, fn.problem = False, False, None
        await _terminate([fn.proc] if fn.proc else [], grace)

    async def _keep_alive(self, fn: FunctionProcess) -> None:
        """Restart `fn` whenever it exits (backoff reset after a minute up); watch a slow starter come up."""
        async with aiohttp.ClientSession() as session:
            while not self._stopping:
                await asyncio.sleep(0.1)
                if fn.proc is None or not fn.wanted:
                    continue
                if fn.proc.poll() is None:
                    if not fn.ready and await self._wait_ready(session, fn, 1) is None:
                        self._report(fn, None)  # it was slower than READY_TIMEOUT_S, but it came up
                    continue
                fn.ready = False
                reason = await fn.exit_reason()
                fn.backoff = 0.5 if time.monotonic() - fn.started_at > 60 else min(fn.backoff * 2, BACKOFF_CAP_S)
                if fn.problem is None:
                    log.warning("function exited; restarting",
                                extra={"function": fn.spec.name, "reason": reason, "in_s": fn.backoff})
                await asyncio.sleep(fn.backoff)
                if self._stopping:
                    return
                if not fn.wanted or fn.running:  # stopped, or started on demand, meanwhile
                    continue
                fn.restarts += 1
                _restarts.labels(fn.spec.name).inc()
                self._spawn(fn)
                reason = await self._wait_ready(session, fn, READY_TIMEOUT_S)
                self._report(fn, reason)

    async def stop(self, grace: float = 10) -> None:
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        await _terminate([fn.proc for fn in self.functions.values() if fn.proc], grace)
        for fn in self.functions.values():
            fn.reservation.release()


async def _terminate(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM, then SIGKILL for whatever has not exited within `grace` seconds."""
    running = [proc for proc in procs if proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in running:
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
