"""What HA itself fired, heard on its own WebSocket: the ground truth the end-to-end counts are compared with."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import websocket

EVENT_TYPES = ("state_changed", "call_service", "automation_triggered")


class EventRecorder:
    """Subscribes to HA's events on its own thread and keeps them (with the wall time each arrived)."""

    def __init__(self, ws_url: str, token: str, event_types: tuple[str, ...] = EVENT_TYPES) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._conn = websocket.create_connection(ws_url, timeout=30)
        self._conn.recv()
        self._conn.send(json.dumps({"type": "auth", "access_token": token}))
        if json.loads(self._conn.recv())["type"] != "auth_ok":
            raise RuntimeError("HA refused the token")
        for i, kind in enumerate(event_types, start=1):
            self._conn.send(json.dumps({"id": i, "type": "subscribe_events", "event_type": kind}))
        self._conn.settimeout(1)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._conn.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException):
                return
            message = json.loads(raw)
            with self._lock:
                for item in message if isinstance(message, list) else [message]:
                    if item.get("type") == "event":
                        self.events.append((time.time(), item["event"]))

    def quiet_for(self, seconds: float, timeout: float = 60) -> None:
        """Wait until HA has fired nothing for `seconds` (queued automation runs have finished)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = self.events[-1][0] if self.events else 0
            if time.time() - last >= seconds:
                return
            time.sleep(0.1)

    def counts(self, entity_ids: set[str]) -> tuple[Counter[tuple[str, str]], int]:
        """(per (event_type, entity_id) for those entities, call_service records in total).

        A call_service event counts for each entity its service_data.entity_id names (one id or a list), as the
        ingestor records it: one record per entity, or one record when it names none.
        """
        per_entity: Counter[tuple[str, str]] = Counter()
        services = 0
        with self._lock:
            for _, event in self.events:
                kind, data = event["event_type"], event["data"]
                if kind == "call_service":
                    target = (data.get("service_data") or {}).get("entity_id")
                    targets = list(dict.fromkeys([target] if isinstance(target, str) else target or []))
                    services += max(1, len(targets))
                    for entity_id in targets:
                        if entity_id in entity_ids:
                            per_entity[(kind, entity_id)] += 1
                elif data.get("entity_id") in entity_ids:
                    per_entity[(kind, data["entity_id"])] += 1
        return per_entity, services

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._conn.close()
