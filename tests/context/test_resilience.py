"""The circuit breaker and the rate limit, on a clock the tests move."""

from __future__ import annotations

from ingestor.context.resilience import CircuitBreaker, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_threshold_failures_in_a_row() -> None:
    breaker = CircuitBreaker(threshold=3, reset_s=60, clock=Clock())
    breaker.failure("x")
    breaker.failure("x")
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure("boom")
    assert breaker.state == "open" and not breaker.allow() and breaker.last_error == "boom"


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2, clock=Clock())
    breaker.failure("x")
    breaker.success()
    breaker.failure("x")
    assert breaker.state == "closed"


def test_after_reset_time_one_trial_closes_it_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, reset_s=30, clock=clock)
    breaker.failure("x")
    clock.now = 30
    assert breaker.state == "half_open" and breaker.allow()
    breaker.success()
    assert breaker.state == "closed"


def test_a_failed_trial_opens_it_again_for_the_full_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, reset_s=30, clock=clock)
    for _ in range(3):
        breaker.failure("x")
    clock.now = 31
    breaker.failure("still down")
    assert breaker.state == "open"
    clock.now = 60
    assert breaker.state == "open"
    clock.now = 61
    assert breaker.state == "half_open"


def test_the_bucket_allows_a_burst_then_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=60, per_s=60, clock=clock)
    assert sum(bucket.take() for _ in range(100)) == 60
    clock.now = 1.0
    assert bucket.take() and not bucket.take()
