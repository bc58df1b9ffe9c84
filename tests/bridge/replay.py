"""A WebSocket server that speaks HA's protocol from a recording of a real HA 2024.3.3 (recorded/).

Only for what a real HA cannot be made to do: send malformed frames (test_bridge_protocol.py), and
send recorded events faster than HA's own event loop produces them (bench/bridge_throughput.py).
Commands are answered with the recorded replies; once the client has subscribed and fetched its
discovery lists, a `script` coroutine sends whatever frames the test or benchmark wants.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

RECORDING = Path(__file__).resolve().parent / "recorded" / "ha-2024.3.3.json"
Script = Callable[[web.WebSocketResponse, dict[str, int]], Awaitable[None]]


def load_recording(path: Path = RECORDING) -> dict[str, Any]:
    return json.loads(path.read_text())


def recorded_events(recording: dict[str, Any]) -> list[dict[str, Any]]:
    """Every `event` object of the recording, in the order HA sent them."""
    events = []
    for frame in recording["event_frames"]:
        doc = json.loads(frame)
        events += [m["event"] for m in (doc if isinstance(doc, list) else [doc])]
    return events


def compressed(state: dict[str, Any]) -> dict[str, Any]:
    """A state as history/history_during_period returns it (HA's compressed format, epoch floats)."""
    row = {"s": state["state"], "a": state["attributes"],
           "lu": dt.datetime.fromisoformat(state["last_updated"]).timestamp()}
    if state["last_changed"] != state["last_updated"]:
        row["lc"] = dt.datetime.fromisoformat(state["last_changed"]).timestamp()
    return row


def retimed(events: list[dict[str, Any]], count: int, start: dt.datetime) -> list[dict[str, Any]]:
    """`count` recorded events cycled, each moved to its own microsecond so every event_id is new."""
    out = []
    for i in range(count):
        event = copy.deepcopy(events[i % len(events)])
        when = (start + dt.timedelta(microseconds=i)).isoformat()
        event["time_fired"] = when
        new_state = event["data"].get("new_state") if event["event_type"] == "state_changed" else None
        if new_state:
            new_state["last_updated"] = new_state["last_changed"] = when
        out.append(event)
    return out


class ReplayServer:
    def __init__(self, script: Script | None = None, token: str = "replay-token",
                 recording: dict[str, Any] | None = None) -> None:
        self.recording = recording or load_recording()
        self.script = script
        self.token = token
        self.sent_ids: list[list[int]] = []  # per connection, the ids of the commands the client sent
        self.auth_attempts = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReplayServer:
        threading.Thread(target=self._loop.run_forever, name="replay-ha", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/websocket", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        async def shutdown() -> None:
            for task in self._tasks:
                task.cancel()
            if self._runner is not None:
                await self._runner.cleanup()
        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _reply(self, message: dict[str, Any]) -> dict[str, Any]:
        kind = message.get("type")
        if kind == "ping":
            return {"id": message["id"], "type": "pong"}
        recorded = self.recording["replies"].get(kind)
        result = recorded["result"] if recorded else ({} if kind == "history/history_during_period" else None)
        if recorded is None and kind not in ("history/history_during_period",):
            return {"id": message["id"], "type": "result", "success": False,
                    "error": {"code": "unknown_command", "message": "Unknown command."}}
        return {"id": message["id"], "type": "result", "success": True, "result": result}

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_json(self.recording["handshake"][0])
        auth = await ws.receive_json(timeout=10)
        self.auth_attempts += 1
        if auth.get("access_token") != self.token:
            await ws.send_json({"type": "auth_invalid", "message": "Invalid access token or password"})
            await ws.close()
            return ws
        await ws.send_json(self.recording["handshake"][1])
        ids: list[int] = []
        self.sent_ids.append(ids)
        subscriptions: dict[str, int] = {}
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            message = json.loads(msg.data)
            ids.append(message.get("id"))
            if message.get("type") == "subscribe_events":
                subscriptions[message["event_type"]] = message["id"]
            await ws.send_json(self._reply(message))
            if message.get("type") == "get_states" and self.script is not None:
                task = asyncio.create_task(self.script(ws, subscriptions))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return ws
