"""One log line when something starts failing and one when it works again, however often it is retried.

A retry loop that logs every attempt turns a minute of NATS or store downtime into hundreds of lines
that hide the one that says why; a loop that logs nothing leaves an outage invisible. An Outage is the
middle: the first failure of a streak is logged with its reason, the recovery with how long it lasted
and how many attempts failed meanwhile, and everything between is only counted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any


class Outage:
    def __init__(self, logger: logging.Logger, started: str, ended: str, level: int = logging.WARNING,
                 **fields: Any) -> None:
        self.log = logger
        self.started_msg = started
        self.ended_msg = ended
        self.level = level
        self.fields = fields
        self.since: float | None = None  # monotonic start of the current outage
        self.started_at: float | None = None  # the same, as epoch seconds (for health documents)
        self.failures = 0
        self.reason: str | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, reason: str) -> bool:
        """Count a failure; True (and one log line) when it starts an outage."""
        with self._lock:
            self.failures += 1
            self.reason = reason
            if self.since is not None:
                return False
            self.since, self.started_at = time.monotonic(), time.time()
        self.log.log(self.level, self.started_msg, extra={**self.fields, "reason": reason})
        return True

    def recovered(self) -> float | None:
        """End the outage, if there is one: one log line, and its length in seconds."""
        with self._lock:
            if self.since is None:
                return None
            seconds, failures = time.monotonic() - self.since, self.failures
            self.since = self.started_at = self.reason = None
            self.failures = 0
        self.log.info(self.ended_msg, extra={**self.fields, "seconds": round(seconds, 1), "failures": failures})
        return seconds

    def status(self) -> dict[str, Any]:
        """For health documents: whether it is down, since when and why."""
        with self._lock:
            if self.since is None:
                return {"down": False}
            return {"down": True, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at)),
                    "seconds": round(time.monotonic() - self.since, 1), "failures": self.failures,
                    "reason": self.reason}
