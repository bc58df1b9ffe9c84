"""Records the same events from a real Home Assistant 2024.3.3 twice: live, as the bridge receives them, and
as `logbook/get_events` (and `history/history_during_period`) give them back afterwards.

    .venv/bin/python -m tests.bridge.record_logbook     (starts its own HA; writes ha_samples/sample_logbook.json)

The unit tests rebuild events from these logbook rows and require the ids of the live events.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import websocket

from tests.support.ha_events import SAMPLES
from tests.support.homeassistant import HomeAssistant

EVENT_TYPES = ("state_changed", "call_service", "automation_triggered", "script_started", "logbook_entry",
               "homeassistant_start", "homeassistant_stop")


class LiveEvents:
    """Every event of EVENT_TYPES HA sends one subscribed client, until the connection ends."""

    def __init__(self, ha: HomeAssistant) -> None:
        self.conn = websocket.create_connection(ha.ws_url, timeout=10)
        self.conn.recv()
        self.conn.send(json.dumps({"type": "auth", "access_token": ha.token}))
        self.conn.recv()
        for msg_id, kind in enumerate(EVENT_TYPES, start=1):
            self.conn.send(json.dumps({"id": msg_id, "type": "subscribe_events", "event_type": kind}))
        self.events: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                doc = json.loads(self.conn.recv())
                for message in doc if isinstance(doc, list) else [doc]:
                    if message.get("type") == "event":
                        self.events.append(message["event"])
        except (websocket.WebSocketException, OSError, ValueError):
            return


def record(ha: HomeAssistant) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    live = LiveEvents(ha)
    time.sleep(0.5)
    ha.call_service("input_boolean", "turn_off", entity_id="input_boolean.living_room_light")
    ha.call_service("input_boolean", "turn_on", entity_id="input_boolean.living_room_light")  # the automation
    ha.call_service("script", "bump_script_runs")
    ha.call_service("logbook", "log", name="Door", message="opened by the test",
                    entity_id="input_boolean.living_room_light")
    ha.call_service("logbook", "log", name="Note", message="no entity")
    time.sleep(2)  # the recorder commits every second here
    ha.stop()  # is homeassistant_stop sent to clients before HA closes their connections?
    live.thread.join(5)
    ha.start()
    time.sleep(2)
    logbook, history = ha.ws(
        ("logbook/get_events", {"start_time": started.isoformat()}),
        ("history/history_during_period", {"start_time": started.isoformat(), "include_start_time_state": True,
                                            "significant_changes_only": False, "minimal_response": False,
                                            "no_attributes": False,
                                            "entity_ids": ["input_boolean.living_room_light", "counter.light_on_events",
                                                           "script.bump_script_runs"]}))
    return {"note": "the same events live (as a subscribed client received them, until HA stopped) and from HA's "
                    "logbook and history after a restart; HA 2024.3.3",
            "live": live.events, "logbook": logbook, "history": history}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ha = HomeAssistant(Path(tmp) / "config").start()
        try:
            recording = record(ha)
        finally:
            ha.stop()
    path = SAMPLES / "sample_logbook.json"
    path.write_text(json.dumps(recording, indent=2) + "\n")
    kinds = sorted({e["event_type"] for e in recording["live"]})
    print(json.dumps({"file": str(path), "live": len(recording["live"]), "live_types": kinds,
                      "logbook": len(recording["logbook"])}))


if __name__ == "__main__":
    main()
