"""The cyclic garbage collector paused for a read that makes tens of thousands of short-lived objects.

A long read (the 50,000 newest stays, a year of hourly cells) allocates tuples and lists by the ten thousand,
few of them in cycles, and each allocation threshold crossed makes the collector walk them, and every so
often every object the process holds (the store's dictionaries, blocks kept for the next read): measured on
the year's 7-day stays read, ~40 % of its CPU time. Reference counting still frees what the read lets go;
what is in a cycle waits for the next collection after the read.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """No collection inside the block; the collector as it was after it (a block inside another, or in another
    thread while one runs, leaves it to the outermost to turn it back on)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
