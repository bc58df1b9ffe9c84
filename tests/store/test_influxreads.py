"""Statements sent at once (store/influxreads.py): answers in the order asked, whatever order they arrive in, and
the first failure in that order raised, so a read merges its tiers as it did one after the other."""

from __future__ import annotations

import threading
import time

import pytest

from ingestor.store import influxreads as reads
from ingestor.store.model import StoreUnavailable


def test_answers_come_back_in_the_order_asked_though_the_first_arrives_last() -> None:
    in_flight: set[str] = set()
    most = [0]
    lock = threading.Lock()

    def query(q: str) -> str:
        with lock:
            in_flight.add(q)
            most[0] = max(most[0], len(in_flight))
        time.sleep(0.2 if q == "a" else 0.05)
        with lock:
            in_flight.discard(q)
        return q.upper()

    assert reads.all_of(query, ["a", "b", "c", "d"]) == ["A", "B", "C", "D"]
    assert most[0] > 1  # they were in flight together


def test_the_first_failure_in_the_order_asked_is_raised() -> None:
    def query(q: str) -> str:
        if q == "b":
            time.sleep(0.1)
            raise StoreUnavailable("b")
        if q == "c":
            raise ValueError("c")
        return q

    with pytest.raises(StoreUnavailable, match="b"):
        reads.all_of(query, ["a", "b", "c"])
