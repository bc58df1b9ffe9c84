"""What a real HA cannot be made to send: malformed and unexpected frames, from a replay server.

The server speaks HA's protocol from a recording of a real HA 2024.3.3 (recorded/), and after the
bridge has subscribed it sends garbage between two recorded events. Everything else about the
bridge is tested against the real HA in test_bridge_ha.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from ingestor.event_id import event_id
from tests.bridge.bridgeproc import BridgeFactory
from tests.bridge.replay import ReplayServer, load_recording, recorded_events
from tests.bridge.streamreader import StreamReader
from tests.support.polling import wait_until

pytestmark = pytest.mark.integration

RECORDING = load_recording()
FIRST, SECOND = [e for e in recorded_events(RECORDING) if e["event_type"] == "state_changed"][:2]
GARBAGE_COUNT = 8  # malformed parts in the script below


async def garbage_between_two_events(ws: web.WebSocketResponse, subscriptions: dict[str, int]) -> None:
    sub = subscriptions["state_changed"]
    await ws.send_str("this is not JSON {")
    await ws.send_bytes(b"\x00\x01binary")
    await ws.send_str(json.dumps([{"type": "event", "event": FIRST, "id": sub}, 42, {"no_type": True}]))
    await ws.send_str(json.dumps({"type": "event", "id": sub}))
    await ws.send_str(json.dumps({"type": "event", "id": sub, "event": {"event_type": "state_changed", "data": "x"}}))
    await ws.send_str(json.dumps({"type": "result", "id": 987654, "success": True, "result": None}))
    await ws.send_str(json.dumps({"type": "brand_new_message_type", "id": sub}))
    await ws.send_str(json.dumps({"type": "event", "id": sub, "event": SECOND}))


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer(script=garbage_between_two_events).start()
    yield server
    server.stop()


def test_malformed_and_unexpected_messages_are_logged_and_skipped_never_fatal(
        replay: ReplayServer, make_bridge: BridgeFactory, stream: StreamReader) -> None:
    bridge = make_bridge(ha_url=replay.url, token=replay.token)
    bridge.wait_connected()
    wait_until(lambda: bridge.metric("ha_ingestor_bridge_malformed_messages_total") >= GARBAGE_COUNT, 15,
               "every malformed part counted")

    def forwarded() -> list[dict[str, Any]]:
        return [e for e in stream.raw_events() if e.get("event_type") == "state_changed"]

    events = wait_until(lambda: len(f := forwarded()) >= 2 and f, 15, "both recorded events forwarded")
    assert [event_id(e) for e in events] == [event_id(FIRST), event_id(SECOND)]
    assert events == [FIRST, SECOND], "forwarded events must be HA's objects unchanged"
    assert bridge.metric("ha_ingestor_bridge_malformed_messages_total") == GARBAGE_COUNT
    reasons = [line["reason"] for line in bridge.logs() if line.get("msg") == "skipped a malformed message from HA"]
    assert len(reasons) == GARBAGE_COUNT
    assert any(r.startswith("not JSON") for r in reasons) and "unexpected binary frame" in reasons
    assert "unexpected message type 'brand_new_message_type'" in reasons
    health = bridge.health()
    assert health["connected"] is True and health["reconnect_count"] == 0
    assert bridge.proc is not None and bridge.proc.poll() is None

    (ids,) = replay.sent_ids  # one connection, so HA's rule is checkable: ids strictly increase
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] == 1
