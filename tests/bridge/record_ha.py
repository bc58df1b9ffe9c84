"""Records what a real Home Assistant 2024.3.3 sends to a client like the bridge, for the replay server.

    .venv/bin/python -m tests.bridge.record_ha        (starts its own HA, writes recorded/ha-2024.3.3.json)

Kept: the auth handshake, the replies to supported_features / subscribe_events / get_config / the
registry lists / get_states, and the event frames exactly as they came off the socket (including the
JSON arrays `coalesce_messages` produces) while the recorder drove the sample entities over REST.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import websocket

RECORDING = Path(__file__).resolve().parent / "recorded" / "ha-2024.3.3.json"
EVENT_TYPES = ("state_changed", "call_service", "automation_triggered", "script_started")


def record(ha: Any, seconds: float = 4.0) -> dict[str, Any]:
    conn = websocket.create_connection(ha.ws_url, timeout=10)
    handshake = [json.loads(conn.recv())]
    conn.send(json.dumps({"type": "auth", "access_token": ha.token}))
    handshake.append(json.loads(conn.recv()))
    replies: dict[str, Any] = {}
    commands = [("supported_features", {"features": {"coalesce_messages": 1}}),
                *[("subscribe_events", {"event_type": t}) for t in EVENT_TYPES],
                ("get_config", {}), ("config/area_registry/list", {}), ("config/device_registry/list", {}),
                ("config/entity_registry/list", {}), ("get_states", {})]
    for msg_id, (kind, fields) in enumerate(commands, start=1):
        conn.send(json.dumps({"id": msg_id, "type": kind, **fields}))
    frames: list[str] = []
    pending = len(commands)

    def drive() -> None:  # the sample entities' kinds of change: plain, automation chain, template sensor
        for i in range(20):
            ha.call_service("input_boolean", "toggle", entity_id="input_boolean.living_room_light")
            ha.call_service("input_number", "set_value", entity_id="input_number.living_room_temperature_raw",
                            value=round(18 + i * 0.1, 1))
            ha.call_service("script", "bump_script_runs")
            ha.probe_changes(5)

    driver = threading.Thread(target=drive)
    deadline = None
    conn.settimeout(1)
    while True:
        try:
            frame = conn.recv()
        except websocket.WebSocketTimeoutException:
            if deadline and time.monotonic() > deadline:
                break
            continue
        messages = json.loads(frame)
        for message in messages if isinstance(messages, list) else [messages]:
            if message["type"] == "result":
                kind = commands[message["id"] - 1][0]
                replies.setdefault(kind, message)
                pending -= 1
        if not pending and deadline is None:
            driver.start()
            deadline = time.monotonic() + seconds
        if '"type":"event"' in frame:
            frames.append(frame)
    driver.join()
    conn.close()
    return {"ha_version": handshake[0]["ha_version"], "handshake": handshake, "replies": replies,
            "event_frames": frames}


def main() -> int:
    sys.path[:0] = [str(p) for p in (Path(__file__).resolve().parents[2] / "functions" / "common",
                                      Path(__file__).resolve().parents[2] / "infra" / "local")]
    from tests.support.homeassistant import running

    with tempfile.TemporaryDirectory() as tmp, running(Path(tmp) / "config") as ha:
        recording = record(ha)
    RECORDING.parent.mkdir(exist_ok=True)
    RECORDING.write_text(json.dumps(recording, indent=1, ensure_ascii=False) + "\n")
    arrays = sum(f.startswith("[") for f in recording["event_frames"])
    print(f"{RECORDING}: {len(recording['event_frames'])} event frames ({arrays} coalesced arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
