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


def test_a_restored_breaker_stays_open_until_its_reset_time() -> None:
    clock = Clock()
    first = CircuitBreaker(threshold=1, reset_s=60, clock=clock)
    first.failure("HTTP 503")
    clock.now = 30.0
    second = CircuitBreaker(threshold=1, reset_s=60, clock=clock)
    second.restore(first.snapshot())
    assert (second.state, second.failures, second.last_error) == ("open", 1, "HTTP 503")
    clock.now = 60.0
    assert second.state == "half_open"


def test_an_unreadable_breaker_snapshot_leaves_it_closed() -> None:
    breaker = CircuitBreaker(threshold=1, clock=Clock())
    for saved in ({}, {"failures": "x", "opened_at": 1.0}, {"failures": 1, "opened_at": "soon"}):
        breaker.restore(saved)
        assert breaker.state == "closed" and breaker.failures == 0


def test_a_restored_bucket_keeps_what_was_spent() -> None:
    clock = Clock()
    first = TokenBucket(rate=2, per_s=60, clock=clock)
    assert first.take() and first.take()
    second = TokenBucket(rate=2, per_s=60, clock=clock)
    second.restore(first.snapshot())
    assert not second.take()
    clock.now = 30.0
    assert second.take()


def test_a_clock_set_back_never_refills_or_breaks_the_bucket() -> None:
    clock = Clock()
    clock.now = 100.0
    bucket = TokenBucket(rate=1, per_s=60, clock=clock)
    assert bucket.take()
    clock.now = 40.0
    assert not bucket.take()
    assert bucket.tokens >= 0
