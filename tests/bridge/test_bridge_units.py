"""The bridge's pure rules, one behaviour each: URLs, frames, ids, batches, spool, backoff, backfill, registry parts."""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ha_bridge import backfill, discovery, protocol
from ha_bridge.batcher import GRACE_S, Batch, Batcher, batch_id, encode_envelope, event_key
from ha_bridge.session import Backoff
from ha_bridge.settings import load, websocket_url
from ha_bridge.spool import Spool
from ha_bridge.state import BridgeState
from ingestor import envelope, jsoncodec, subjects
from ingestor.config import ConfigError
from ingestor.event_id import event_id
from ingestor.validation import ValidationRules, validate_event
from tests.bridge.replay import compressed, load_recording, recorded_events

RECORDED = recorded_events(load_recording())
STATE_CHANGES = [e for e in RECORDED if e["event_type"] == "state_changed" and e["data"]["old_state"]]


@pytest.mark.parametrize(("ha_url", "expected"), [
    ("http://homeassistant.local:8123", "ws://homeassistant.local:8123/api/websocket"),
    ("https://ha.example.org/", "wss://ha.example.org/api/websocket"),
    ("https://example.org/ha", "wss://example.org/ha/api/websocket"),
    ("ws://127.0.0.1:8123/api/websocket", "ws://127.0.0.1:8123/api/websocket"),
])
def test_ha_url_becomes_the_websocket_endpoint(ha_url: str, expected: str) -> None:
    assert websocket_url(ha_url) == expected


@pytest.mark.parametrize("bad", ["homeassistant.local:8123", "ftp://ha", "http://"])
def test_an_unusable_ha_url_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="HA_URL"):
        websocket_url(bad)


def test_the_token_comes_from_the_secrets_folder_and_never_shows_in_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ha-token").write_text("secret-token-value-1234\n")
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("HA_URL", "http://ha:8123")
    monkeypatch.delenv("HA_TOKEN", raising=False)
    settings = load()
    assert settings.token == "secret-token-value-1234"
    assert "secret-token-value-1234" not in repr(settings)


def test_no_token_is_a_config_error_that_says_where_to_put_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("HA_URL", "http://ha:8123")
    monkeypatch.delenv("HA_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="ha-token"):
        load()


def test_a_frame_is_one_message_or_a_coalesced_array() -> None:
    single = b'{"type":"pong","id":3}'
    array = b'[{"type":"event","id":2,"event":{}},{"type":"result","id":4}]'
    assert protocol.decode_frame(single) == ([{"type": "pong", "id": 3}], [])
    messages, malformed = protocol.decode_frame(array)
    assert [m["type"] for m in messages] == ["event", "result"] and malformed == []


def test_unusable_parts_of_a_frame_are_reported_not_raised() -> None:
    messages, malformed = protocol.decode_frame(b'[{"type":"pong","id":1}, 7, {"id": 2}]')
    assert [m["id"] for m in messages] == [1]
    assert [m.reason for m in malformed] == ["message is not a JSON object", "message has no string 'type'"]
    assert protocol.decode_frame(b"{nope")[1][0].reason.startswith("not JSON")


def test_message_ids_strictly_increase_even_across_threads() -> None:
    ids = protocol.MessageIds()
    taken: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(1000):
            value = ids.next()
            with lock:
                taken.append(value)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1, 4001))


def test_a_batch_id_depends_only_on_its_event_ids() -> None:
    ids = [event_key(e) for e in RECORDED[:10]]
    assert batch_id("raw", ids) == batch_id("raw", list(ids))
    assert batch_id("raw", ids) != batch_id("raw", ids[:9])
    assert batch_id("raw", ids).startswith("raw-") and ":" not in batch_id("raw", ids)


def test_the_envelope_is_byte_identical_to_the_shared_encoder() -> None:
    events = RECORDED[:25]
    assert encode_envelope("raw-x", [jsoncodec.dumps(e) for e in events]) == envelope.encode("raw-x", events)


class ManualClock:
    """The batcher's local clock, moved by the test: arrival moments exactly as the test says they were."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def collecting_batcher(size: int, ms: int, clock: ManualClock | None = None,
                       start: bool = True) -> tuple[Batcher, list[Batch]]:
    batches: list[Batch] = []
    batcher = Batcher(size, ms, dedup_size=1000, emit=batches.append, clock=clock or time.monotonic)
    if start:
        batcher.start()
    return batcher, batches


def wait_for_batches(batches: list[Batch], n: int) -> None:
    deadline = time.monotonic() + 5
    while len(batches) < n and time.monotonic() < deadline:
        time.sleep(0.002)


def test_the_batcher_flushes_at_n_events() -> None:
    batcher, batches = collecting_batcher(size=10, ms=60_000)
    for event in RECORDED[:25]:
        batcher.put(event)
    deadline = time.monotonic() + 5
    while len(batches) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [b.count for b in batches] == [10, 10]
    batcher.stop()
    assert [b.count for b in batches] == [10, 10, 5]


def at(event: dict[str, Any], moment: dt.datetime) -> dict[str, Any]:
    """`event` as if HA had fired it at `moment` (a state change keeps its id rule: new_state moves too)."""
    moved = copy.deepcopy(event)
    moved["time_fired"] = moment.isoformat()
    if moved["event_type"] == "state_changed" and moved["data"].get("new_state"):
        moved["data"]["new_state"]["last_updated"] = moment.isoformat()
    return moved


def test_a_quiet_window_is_flushed_a_grace_after_its_end_on_ha_s_clock() -> None:
    clock = ManualClock()
    batcher, batches = collecting_batcher(size=1000, ms=100, clock=clock)
    window_start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    batcher.put(at(RECORDED[0], window_start + dt.timedelta(milliseconds=10)))  # 90 ms of its window left
    clock.now = 0.09 + GRACE_S - 0.001
    time.sleep(0.2)
    assert batches == [], "flushed before its window's end and the grace"
    clock.now = 0.09 + GRACE_S
    wait_for_batches(batches, 1)
    assert [b.count for b in batches] == [1]
    batcher.stop()


class SlowBatcherClock(ManualClock):
    """The reader's moments as the test sets them; the batcher's thread is slow: each time it reads the
    clock, another second has passed (a loaded machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.batcher_now = 10.0

    def __call__(self) -> float:
        if threading.current_thread().name != "batcher":
            return self.now
        self.batcher_now += 1.0
        return self.batcher_now


def test_events_that_arrived_before_a_window_s_deadline_stay_in_it_when_the_batcher_runs_late() -> None:
    clock = SlowBatcherClock()
    batcher, batches = collecting_batcher(size=1000, ms=100, clock=clock)
    window_start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    for i in range(3):
        clock.now = i * 0.001
        batcher.put(at(RECORDED[i], window_start + dt.timedelta(milliseconds=10 + i)))
    wait_for_batches(batches, 1)
    batcher.stop()
    assert [b.count for b in batches] == [3]


def test_an_event_of_a_later_window_flushes_the_earlier_one_at_once() -> None:
    batcher, batches = collecting_batcher(size=1000, ms=60_000)
    base = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    batcher.put(at(RECORDED[0], base + dt.timedelta(seconds=1)))
    batcher.put(at(RECORDED[1], base + dt.timedelta(seconds=2)))
    batcher.put(at(RECORDED[2], base + dt.timedelta(seconds=61)))
    deadline = time.monotonic() + 5
    while not batches and time.monotonic() < deadline:
        time.sleep(0.005)
    assert [b.count for b in batches] == [2]
    batcher.stop()
    assert [b.count for b in batches] == [2, 1]


def test_two_replicas_fed_the_same_events_at_different_moments_publish_the_same_batches() -> None:
    base = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    events = [at(e, base + dt.timedelta(milliseconds=3 * i)) for i, e in enumerate(RECORDED[:300])]  # 0.9 s
    replicas = []
    # one replica reads them all in one burst (a backlog), the other one by one, each within 4 ms of its
    # firing on HA's clock, its flush timer running meanwhile
    for paced in (False, True):
        clock = ManualClock()
        batcher, batches = collecting_batcher(size=1000, ms=100, clock=clock)
        pauses = random.Random(17)
        for i, event in enumerate(events):
            if paced:
                clock.now = max(clock.now, 0.003 * i + pauses.uniform(0, 0.004))
                time.sleep(0.0005)  # let the batcher's thread run between events
            batcher.put(event)
        batcher.stop()
        replicas.append(batches)
    first, second = ([b.batch_id for b in batches] for batches in replicas)
    assert first == second, "the replicas cut different batches"
    assert sum(b.count for b in replicas[0]) == 300 and len(first) == 9  # one per 100 ms of HA's time


def test_backfilled_events_are_batched_apart_from_live_ones_and_handed_over_at_the_marker() -> None:
    batcher, batches = collecting_batcher(size=1000, ms=50)
    old = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    for i, event in enumerate(RECORDED[:4]):
        batcher.put(at(event, old + dt.timedelta(seconds=i)), "backfill")
    batcher.put(RECORDED[5])
    assert batcher.flush_marker().wait(5)
    backfilled = [b for b in batches if b.source == "backfill"]
    assert [b.count for b in backfilled] == [4] and backfilled[0].cursor is None, "backfill moved the cursor"
    assert [b.count for b in batches if b.source == "live"] == [1]
    batcher.stop()


def test_the_batcher_drops_an_event_it_has_seen_and_tracks_the_cursor() -> None:
    batcher, batches = collecting_batcher(size=1000, ms=50)
    for event in (RECORDED[0], RECORDED[1], RECORDED[0]):
        batcher.put(event)
    batcher.stop()
    (batch,) = batches
    assert batch.count == 2
    assert batch.cursor == max(dt.datetime.fromisoformat(e["time_fired"]) for e in RECORDED[:2])


def test_an_event_json_cannot_carry_is_dead_lettered_and_the_others_flow_on() -> None:
    deep: Any = "leaf"
    for _ in range(300):  # past orjson's own limit: no encoder can forward it
        deep = {"a": deep}
    hostile = {**RECORDED[0], "data": {**RECORDED[0]["data"], "new_state": {"attributes": deep}}}
    batcher, batches = collecting_batcher(size=1000, ms=50)
    for event in (hostile, RECORDED[1]):
        batcher.put(event)
    batcher.stop()
    dead, forwarded = batches
    assert dead.subject == subjects.DLQ and dead.count == 1
    (entry,) = jsoncodec.loads(dead.payload)["entries"]
    assert entry["reason"] == "event cannot be encoded as JSON (Recursion limit reached)"
    assert entry["payload"].startswith('{"event_type":"call_service"') and '{"a":{"a":' in entry["payload"]
    assert forwarded.subject == subjects.RAW and forwarded.count == 1


def a_batch(n: int) -> Batch:
    return Batch(subjects.RAW, f"raw-{n}", envelope.encode(f"raw-{n}", [{"n": n}]), 1)


def test_the_spool_is_fifo_keeps_pushed_back_batches_in_front_and_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(a_batch(3))
    spool.append(a_batch(4))
    spool.push_front([a_batch(1), a_batch(2)])
    reopened = Spool(tmp_path, max_bytes=10**6)
    assert reopened.depth == 4 and reopened.bytes == spool.bytes
    order = []
    while (batch := reopened.peek()) is not None:
        order.append(batch.batch_id)
        reopened.pop()
    assert order == ["raw-1", "raw-2", "raw-3", "raw-4"] and reopened.bytes == 0


def test_backoff_retries_at_the_minimum_for_a_minute_then_doubles_to_the_cap_with_jitter() -> None:
    now = [0.0]
    highest = Backoff(1, 300, rng=lambda: 1.0, clock=lambda: now[0])
    assert [highest.next() for _ in range(5)] == [1, 1, 1, 1, 1]  # an HA restart: back within a second
    now[0] = 61.0
    assert [highest.next() for _ in range(11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    lowest = Backoff(1, 300, rng=lambda: 0.0, clock=lambda: now[0])
    assert lowest.next() == 0.5
    now[0] = 200.0
    assert [lowest.next() for _ in range(3)] == [0.5, 1, 2]
    highest.reset()
    assert highest.next() == 1


def test_a_backfilled_change_has_the_event_id_of_the_live_event_it_stands_for() -> None:
    for live in STATE_CHANGES[:50]:
        data = live["data"]
        cursor = dt.datetime.fromisoformat(data["old_state"]["last_updated"])
        rows = [compressed(data["old_state"]), compressed(data["new_state"])]
        (rebuilt,) = backfill.events_for_entity(data["entity_id"], rows, cursor.timestamp(),
                                                cursor.timestamp() - 15, known=None)
        assert event_id(rebuilt) == event_id(live)
        assert rebuilt["data"]["new_state"]["last_updated"] == data["new_state"]["last_updated"]


def test_a_backfilled_change_has_ha_s_shape_and_passes_validate() -> None:
    live = STATE_CHANGES[0]
    data = live["data"]
    cursor = dt.datetime.fromisoformat(data["old_state"]["last_updated"])
    (rebuilt,) = backfill.events_for_entity(data["entity_id"], [compressed(data["old_state"]),
                                                                 compressed(data["new_state"])],
                                            cursor.timestamp(), cursor.timestamp() - 15, known=data["old_state"])
    assert list(rebuilt) == [*live, "backfill"] and list(rebuilt["data"]["new_state"]) == list(data["new_state"])
    assert rebuilt["time_fired"] == rebuilt["data"]["new_state"]["last_updated"]
    assert rebuilt["context"] == {"id": f"backfill-{event_id(live)}", "parent_id": None, "user_id": None}
    assert rebuilt["backfill"] == {"source": "history", "unknown": ["id", "parent_id", "user_id"]}
    assert rebuilt["data"]["old_state"] is data["old_state"], "the last state the bridge forwarded is old_state"
    assert validate_event(rebuilt, ValidationRules()) is None


def test_history_s_start_time_row_is_never_emitted() -> None:
    live = STATE_CHANGES[0]["data"]
    start = dt.datetime.fromisoformat(live["new_state"]["last_updated"]) - dt.timedelta(seconds=20)
    synthetic_start_row = {**compressed(live["old_state"]), "lu": start.timestamp()}
    assert backfill.events_for_entity(live["entity_id"], [synthetic_start_row], start.timestamp() + 15,
                                      start.timestamp(), known=None) == []


def test_registry_lists_are_cut_into_parts_of_at_most_500_items_numbered_across_the_snapshot() -> None:
    results = {"config": [{"version": "2024.3.3"}], "areas": [], "devices": [{"id": i} for i in range(3)],
               "entities": [{"entity_id": f"sensor.s{i}"} for i in range(1201)], "states": [{"s": 1}]}
    batch = discovery.snapshot(results, "2024.3.3", max_items=500, max_bytes=10**6)
    parts = jsoncodec.loads(batch.payload)["events"]
    assert [(p["type"], len(p["items"])) for p in parts] == [
        ("config", 1), ("areas", 0), ("devices", 3), ("entities", 500), ("entities", 500), ("entities", 201),
        ("states", 1)]
    assert [p["part"] for p in parts] == list(range(1, 8)) and {p["parts"] for p in parts} == {7}
    assert len({p["snapshot_id"] for p in parts}) == 1 and batch.batch_id == f"registry-{parts[0]['snapshot_id']}"


def test_a_registry_part_also_stays_under_its_byte_budget() -> None:
    results = {"states": [{"blob": "x" * 1000} for _ in range(10)]}
    parts = jsoncodec.loads(discovery.snapshot(results, "v", max_items=500, max_bytes=2500).payload)["events"]
    assert [len(p["items"]) for p in parts] == [2, 2, 2, 2, 2]


def test_the_cursor_only_moves_forward_and_survives_a_restart(tmp_path: Path) -> None:
    state = BridgeState(tmp_path)
    later, earlier = dt.datetime(2026, 1, 2, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    state.advance(later, {})
    state.advance(earlier, {})
    state.save()
    assert BridgeState(tmp_path).cursor == later
