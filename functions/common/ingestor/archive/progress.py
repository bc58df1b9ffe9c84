"""What a run, restore or recovery is doing right now: the action, the current day, counts. The lease's
heartbeat carries it to NATS, so `/status` on any replica (and the health function) shows "running";
the CLI draws it on the terminal."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Progress:
    def __init__(self, action: str = "") -> None:
        self._lock = threading.Lock()
        self.action = action
        self.started_at = iso(dt.datetime.now(dt.UTC))
        self.day: str | None = None
        self.day_events = 0
        self.days_done = 0
        self.days_total = 0
        self.events_done = 0
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []  # (what, snapshot): start | events | day

    def _tell(self, what: str) -> None:
        snapshot = self.snapshot()
        for listener in self.listeners:
            listener(what, snapshot)

    def plan(self, days: int) -> None:
        with self._lock:
            self.days_total = days

    def start_day(self, day: dt.date) -> None:
        with self._lock:
            self.day, self.day_events = day.isoformat(), 0
        self._tell("start")

    def advance(self, events: int) -> None:
        with self._lock:
            self.day_events += events
        self._tell("events")

    def end_day(self, result: dict[str, Any]) -> None:
        with self._lock:
            self.days_done += 1
            self.events_done += self.day_events
            self.day, self.day_events = None, 0
        snapshot = {**self.snapshot(), "result": result}
        for listener in self.listeners:
            listener("day", snapshot)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"action": self.action, "started_at": self.started_at, "day": self.day,
                    "day_events": self.day_events, "days_done": self.days_done, "days_total": self.days_total,
                    "events_done": self.events_done}
