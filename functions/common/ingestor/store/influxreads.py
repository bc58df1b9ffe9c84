"""Independent InfluxQL statements sent at once, their answers kept in order.

InfluxDB 1.x answers a statement on one core, and a statement over every series of a measurement costs 10-60 ms
however few rows it returns (a cursor per series and shard). A count over a range reads a statement per tier and
raw edge (five to nine): sent one after the other they cost their sum, sent at once about the longest of them
while InfluxDB has a core free. The answers are merged in the order the statements were planned, so the sums
(floats included) are added up as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

READERS = 4  # statements in flight at once, per process
T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_made = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _made:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="influx-read")
        return _pool


def all_of(query: Callable[[str], T], statements: list[str]) -> list[T]:
    """`query` of each statement, in order; the first failure (in that order) is raised."""
    if len(statements) < 2:
        return [query(q) for q in statements]
    return list(_executor().map(query, statements))
