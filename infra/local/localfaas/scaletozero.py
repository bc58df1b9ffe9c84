"""Scale to zero and from zero, as OpenFaaS does, read from the same labels the real gateway reads.

A function labelled `com.openfaas.scale.zero: "true"` is not started with the runtime: its first call (an
HTTP request or a cron tick, both through the gateway) starts it and waits for it, up to COLD_START_TIMEOUT_S;
it is stopped again once it has had no call for `com.openfaas.scale.zero-duration` (default 15m, as
OpenFaaS's). A start that fails answers the waiting calls with the reason (the gateway's 503) and leaves
the function wanted, so its supervisor keeps restarting it with backoff and health names it, until it is
idle long enough to be scaled down. The pipeline stages carry `com.openfaas.scale.zero: "false"`: events
arrive every second. A topic-triggered function that is rarely called (metadata-sync) may scale to zero: the
topic connector invokes it through the gateway, which starts it, and a 503 for a failed start leaves the
message in the queue for the connector's next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from ha_connector.catalog import duration
from localfaas.stack import FunctionSpec, StackError

log = logging.getLogger(__name__)
ZERO = "com.openfaas.scale.zero"
ZERO_DURATION = "com.openfaas.scale.zero-duration"
DEFAULT_IDLE = "15m"
COLD_START_TIMEOUT_S = 30.0
CHECK_EVERY_S = 1.0


class StartFailed(Exception):
    """A function started on demand did not come up; the message says why (safe to show the caller)."""


class Pool(Protocol):
    """What runs the processes: the local runtime's supervisor, or the provider's deployments."""

    def spec_of(self, name: str) -> FunctionSpec | None: ...

    def is_running(self, name: str) -> bool:
        """Scaled up (started, not stopped since), even while its process is down for a restart."""

    async def start_function(self, name: str, timeout: float) -> str | None:
        """Starts `name` unless it runs; None once it answers, else why not."""

    async def stop_function(self, name: str) -> None: ...


def idle_after(spec: FunctionSpec) -> float | None:
    """Seconds without a call before `spec` is scaled to zero; None when it stays warm."""
    if spec.labels.get(ZERO, "").strip().lower() != "true":
        return None
    raw = spec.labels.get(ZERO_DURATION) or DEFAULT_IDLE
    try:
        seconds = duration(raw)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise StackError(f"{spec.name}: label {ZERO_DURATION} must be a duration such as 30s or 15m, got {raw!r}")
    return seconds


class ScaleToZero:
    def __init__(self, pool: Pool, clock: Callable[[], float] = time.monotonic,
                 cold_start_timeout: float = COLD_START_TIMEOUT_S) -> None:
        self.pool = pool
        self.clock = clock
        self.cold_start_timeout = cold_start_timeout
        self._last_used: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None

    def manages(self, name: str) -> bool:
        spec = self.pool.spec_of(name)
        return spec is not None and idle_after(spec) is not None

    def is_running(self, name: str) -> bool:
        return self.pool.is_running(name)

    def last_used(self, name: str) -> float | None:
        """When `name` last began or finished a call (monotonic clock); None if never."""
        return self._last_used.get(name)

    def touch(self, name: str) -> None:
        """Counts as a use: a function just started (deployed, scaled up) gets its whole zero-duration."""
        self._last_used[name] = self.clock()

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def start(self, name: str) -> None:
        """Starts `name` if it is not running and waits for it; calls arriving meanwhile wait for the same start."""
        async with self._lock(name):
            was_running = self.pool.is_running(name)
            started = self.clock()
            reason = await self.pool.start_function(name, self.cold_start_timeout)
        if reason is not None:
            raise StartFailed(reason)
        if not was_running:
            log.info("scaled from zero", extra={"function": name, "seconds": round(self.clock() - started, 3)})

    async def stop(self, name: str) -> None:
        async with self._lock(name):
            await self.pool.stop_function(name)

    @contextlib.asynccontextmanager
    async def use(self, name: str) -> AsyncIterator[None]:
        """Marks a call in flight: a function is never scaled down under one."""
        self._in_flight[name] = self._in_flight.get(name, 0) + 1
        self._last_used[name] = self.clock()
        try:
            yield
        finally:
            self._in_flight[name] -= 1
            self._last_used[name] = self.clock()

    def _idle(self, name: str, after: float) -> bool:
        used = self._last_used.setdefault(name, self.clock())  # first seen running: its idle time starts now
        return self._in_flight.get(name, 0) == 0 and self.clock() - used >= after

    async def scale_down_idle(self, names: list[str]) -> None:
        """Stops each running function of `names` that has been idle for its zero-duration."""
        for name in names:
            spec = self.pool.spec_of(name)
            after = idle_after(spec) if spec is not None else None
            if after is None or not self.pool.is_running(name) or not self._idle(name, after):
                continue
            async with self._lock(name):  # a call that arrived meanwhile holds it up or is waiting for it
                if not self.pool.is_running(name) or not self._idle(name, after):
                    continue
                await self.pool.stop_function(name)
            log.info("scaled to zero", extra={"function": name, "idle_s": after})

    def begin(self, names: Callable[[], list[str]], every: float = CHECK_EVERY_S) -> None:
        """Checks `names()` for idle functions every `every` seconds until close()."""
        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.scale_down_idle(names())
                except Exception:  # one failed stop must not end scaling down for good
                    log.exception("scaling down failed")
        self._task = asyncio.create_task(loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
