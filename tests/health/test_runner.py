"""Probes run side by side within a deadline; a hung probe neither stalls the call nor piles up threads."""

from __future__ import annotations

import threading
import time

from ingestor.health.runner import Cached, ProbeRunner, ProbeTimeout


def test_a_hung_probe_times_out_while_the_others_answer() -> None:
    release = threading.Event()
    runner = ProbeRunner(workers=4)
    started = time.monotonic()
    results = runner.gather({"hung": lambda: release.wait(10), "fast": lambda: 42,
                             "broken": lambda: 1 / 0}, timeout=0.5)
    elapsed = time.monotonic() - started
    release.set()
    assert isinstance(results["hung"], ProbeTimeout) and results["fast"] == 42
    assert isinstance(results["broken"], ZeroDivisionError) and elapsed < 2


def test_a_probe_still_running_is_joined_not_started_again() -> None:
    release = threading.Event()
    calls: list[int] = []
    runner = ProbeRunner(workers=4)

    def slow() -> str:
        calls.append(1)
        release.wait(10)
        return "done"

    first = runner.submit("slow", slow)
    runner.gather({"slow": slow}, timeout=0.1)
    runner.gather({"slow": slow}, timeout=0.1)
    assert len(calls) == 1
    release.set()
    assert first.result(2) == "done"


def test_cached_values_are_shared_until_they_expire() -> None:
    count = iter(range(100))
    cached = Cached(lambda: next(count), ttl=0.2)
    assert cached.get() == cached.get() == 0
    time.sleep(0.25)
    assert cached.get() == 1
