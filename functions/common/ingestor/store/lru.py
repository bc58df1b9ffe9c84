"""A least-recently-used map capped by its values' summed sizes, each value kept with the version it is of.

What the stores keep across requests (coldstays.DayCache: decoded cold days; influxpackcache.PackCache: decoded
InfluxDB packs) is a value worked out from data another process may write again at any time: a reader always
fetches the data's version (a row's bytes, a pack's digest) and takes the kept value only for that same version,
so no answer depends on what was read before. The caller says what a key, a version and a size are; this class
only keeps, refreshes and evicts, under a lock (the values are shared by threads: they are never changed once
kept, and working one out is left outside the lock).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """Values by key, each with its version and size: `get` gives one only for an equal version; `put` replaces
    the key's, then lets the least recently used go until the sizes held are within `cap`."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._held = 0
        self._values: OrderedDict[K, tuple[object, V, int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """The summed sizes of the values kept (never more than `cap`)."""
        return self._held

    def get(self, key: K, version: object) -> V | None:
        """The key's value if kept for `version` (then the most recently used), else None."""
        with self._lock:
            found = self._values.get(key)
            if found is None or found[0] != version:
                return None
            self._values.move_to_end(key)
            return found[1]

    def put(self, key: K, version: object, value: V, size: int) -> None:
        """Keep `value` (of `version`, costing `size`) in place of the key's. A value larger than `cap` is not
        kept, and the key's older one goes all the same: it is of a version no longer read."""
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._held -= old[2]
            if size > self.cap:
                return
            self._values[key] = (version, value, size)
            self._held += size
            while self._held > self.cap:
                self._held -= self._values.popitem(last=False)[1][2]

    def clear(self) -> None:
        """Let every value go (as a new process starts)."""
        with self._lock:
            self._values.clear()
            self._held = 0

    def kept(self) -> list[K]:
        """The keys kept, least recently used first (a copy: the map may change as soon as it is made)."""
        with self._lock:
            return list(self._values)

    def any_kept(self, keys: Iterable[K]) -> bool:
        """Whether any of `keys` is kept (at any version), looked up at one instant."""
        with self._lock:
            return any(key in self._values for key in keys)

    def __len__(self) -> int:
        return len(self._values)
