"""Guards around a provider: a circuit breaker and a token-bucket rate limit.

Both keep wall-clock times and can be saved and restored, because the pollers that use them are scaled to zero
between cron ticks: a new process must resume an open breaker and a spent rate budget, not start afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CircuitBreaker:
    """Closed until `threshold` failures in a row; then open (no calls) for `reset_s`; then half-open:
    one trial call, which closes it on success and opens it again on failure."""

    threshold: int = 3
    reset_s: float = 300.0
    clock: Callable[[], float] = time.time
    failures: int = 0
    opened_at: float | None = None
    last_error: str | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self.failures, self.opened_at, self.last_error = 0, None, None

    def failure(self, error: str) -> None:
        self.failures += 1
        self.last_error = error
        if self.state == "half_open" or self.failures >= self.threshold:
            self.opened_at = self.clock()

    def snapshot(self) -> dict[str, Any]:
        return {"failures": self.failures, "opened_at": self.opened_at, "last_error": self.last_error}

    def restore(self, saved: dict[str, Any]) -> None:
        """What snapshot() gave, possibly in another process; anything unreadable leaves the breaker closed."""
        try:
            failures, opened_at = int(saved["failures"]), saved["opened_at"]
            self.opened_at = None if opened_at is None else float(opened_at)
            self.failures, self.last_error = failures, saved.get("last_error")
        except (KeyError, TypeError, ValueError):
            self.success()


@dataclass
class TokenBucket:
    """`rate` calls per `per_s` seconds on average, bursts up to `rate`."""

    rate: float
    per_s: float = 60.0
    clock: Callable[[], float] = time.time
    tokens: float = field(default=-1.0)
    updated: float = field(default=0.0)

    def take(self) -> bool:
        now = self.clock()
        if self.tokens < 0:
            self.tokens, self.updated = self.rate, now
        self.tokens = min(self.rate, self.tokens + max(0.0, now - self.updated) * self.rate / self.per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def snapshot(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "updated": self.updated}

    def restore(self, saved: dict[str, Any]) -> None:
        """What snapshot() gave; anything unreadable leaves the bucket full."""
        try:
            tokens, updated = float(saved["tokens"]), float(saved["updated"])
        except (KeyError, TypeError, ValueError):
            return
        self.tokens, self.updated = min(tokens, self.rate), updated
