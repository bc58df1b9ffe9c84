"""What the bridge must remember across reconnects and restarts to backfill a gap correctly.

The cursor is the latest HA time_fired among events that are durable (acknowledged by JetStream or
in the spool): HA's history after it holds exactly the changes the bridge may not have forwarded.
It is rewritten on every durable batch (a tiny file, atomically replaced), so even a SIGKILLed
bridge resumes where it was and does not re-send what JetStream already has.

The last known state of each entity becomes old_state of the first backfilled change, as HA would
have sent it. That map can be large, so it is saved every few seconds and at shutdown.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestor import jsoncodec
from ingestor.timeutil import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)


def _updated(state: dict[str, Any] | None) -> datetime | None:
    try:
        return parse_timestamp(state.get("last_updated")) if state else None
    except ValueError:
        return None


def _write(path: Path, data: bytes, sync: bool) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


class BridgeState:
    def __init__(self, directory: Path, save_states_every_s: float = 5.0) -> None:
        self.cursor_path = Path(directory) / "cursor.json"
        self.states_path = Path(directory) / "states.json"
        self.save_states_every_s = save_states_every_s
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.cursor: datetime | None = None
        self._states: dict[str, dict[str, Any]] = {}
        self._cursor_dirty = False
        self._states_dirty = False
        self._states_saved_at = 0.0
        self._load()

    def _load(self) -> None:
        try:
            raw = jsoncodec.loads(self.cursor_path.read_bytes()).get("cursor")
            self.cursor = parse_timestamp(raw) if raw else None
        except FileNotFoundError:
            pass
        except (ValueError, AttributeError):
            log.error("unreadable cursor; no backfill until the next gap", extra={"file": str(self.cursor_path)})
        try:
            self._states = dict(jsoncodec.loads(self.states_path.read_bytes()))
        except FileNotFoundError:
            pass
        except (ValueError, TypeError):
            log.error("unreadable last known states; backfill uses HA's", extra={"file": str(self.states_path)})

    def advance(self, cursor: datetime | None, states: dict[str, dict[str, Any]]) -> None:
        """Record a durable batch: move the cursor forward and keep the newer state of each entity."""
        with self._lock:
            if cursor is not None and (self.cursor is None or cursor > self.cursor):
                self.cursor = cursor
                self._cursor_dirty = True
            self._merge(states)

    def remember(self, states: list[dict[str, Any]]) -> None:
        """States fetched from HA (get_states): known, but they do not move the cursor."""
        with self._lock:
            self._merge({s["entity_id"]: s for s in states if isinstance(s, dict) and "entity_id" in s})

    def _merge(self, states: dict[str, dict[str, Any]]) -> None:
        for entity_id, state in states.items():
            known = self._states.get(entity_id)
            new_time, old_time = _updated(state), _updated(known)
            if known is None or (new_time is not None and (old_time is None or new_time >= old_time)):
                self._states[entity_id] = state
                self._states_dirty = True

    def states(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._states)

    def save(self, force: bool = False) -> None:
        """The cursor whenever it moved; the states at most every few seconds unless forced."""
        with self._write_lock:
            with self._lock:
                cursor = None
                if self._cursor_dirty:
                    cursor = jsoncodec.dumps({"cursor": format_timestamp(self.cursor) if self.cursor else None})
                    self._cursor_dirty = False
                states = None
                due = time.monotonic() - self._states_saved_at >= self.save_states_every_s
                if self._states_dirty and (force or due):
                    states = jsoncodec.dumps(self._states)
                    self._states_dirty = False
                    self._states_saved_at = time.monotonic()
            if cursor is not None:
                _write(self.cursor_path, cursor, sync=force)  # the page cache survives a killed process
            if states is not None:
                _write(self.states_path, states, sync=True)
