"""Probes run concurrently with a deadline, so one hung component cannot stall the health call.

A probe that is still running when the next health call comes is not started again: the new call
waits on the same attempt. Hung probes therefore hold at most one worker each, never one per call.
Results are cached for a moment (the dashboard polls every few seconds; many viewers share one check).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")


class ProbeTimeout(Exception):
    """The probe did not finish within its deadline (it may still be running)."""


class ProbeRunner:
    def __init__(self, workers: int = 32) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="probe")
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[Any]] = {}

    def submit(self, key: str, probe: Callable[[], T]) -> Future[T]:
        with self._lock:
            running = self._inflight.get(key)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(probe)
            self._inflight[key] = future
            return future

    def gather(self, probes: dict[str, Callable[[], Any]], timeout: float) -> dict[str, Any]:
        """Each probe's result, or the exception it raised, or ProbeTimeout; all within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        futures = {key: self.submit(key, probe) for key, probe in probes.items()}
        results: dict[str, Any] = {}
        for key, future in futures.items():
            try:
                results[key] = future.result(max(deadline - time.monotonic(), 0))
            except FutureTimeout:
                results[key] = ProbeTimeout(f"no answer within {timeout:g} s")
            except Exception as exc:  # a probe's failure is a finding about the component, not ours
                results[key] = exc
        return results


class Cached:
    """A value recomputed at most every `ttl` seconds; concurrent callers share one computation."""

    def __init__(self, compute: Callable[[], T], ttl: float) -> None:
        self._compute = compute
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: Any = None
        self._at = float("-inf")

    def get(self) -> Any:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                self._value = self._compute()
                self._at = time.monotonic()
            return self._value
