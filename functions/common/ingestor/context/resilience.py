"""Guards around a provider: a circuit breaker and a token-bucket rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    """Closed until `threshold` failures in a row; then open (no calls) for `reset_s`; then half-open:
    one trial call, which closes it on success and opens it again on failure."""

    threshold: int = 3
    reset_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
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


@dataclass
class TokenBucket:
    """`rate` calls per `per_s` seconds on average, bursts up to `rate`."""

    rate: float
    per_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(default=-1.0)
    updated: float = field(default=0.0)

    def take(self) -> bool:
        now = self.clock()
        if self.tokens < 0:
            self.tokens, self.updated = self.rate, now
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate / self.per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
