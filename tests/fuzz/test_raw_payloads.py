"""Hostile raw payloads on ha.events.raw through the real runtime: nothing crashes, nothing wedges, nothing is lost.

A seeded, bounded fuzz (FUZZ_SEED, 320 payloads, about a minute): malformed JSON, invalid UTF-8, deep nesting
(up to past orjson's own limits), huge strings, wrong types, NaN/Infinity, envelope variants and bodies near
NATS' max_payload. Each is POSTed to validate (never a 5xx) and published on ha.events.raw; afterwards no
function process has exited, every consumer has settled every message, each message was either accepted or
dead-lettered with its reason, and a good event published after them all is stored.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from typing import Any

import pytest

from ingestor import subjects
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.support.ha_events import many
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("FUZZ_SEED", "1313"))
PAYLOADS = 320
NATS_MAX_PAYLOAD = 8 * 1024 * 1024  # localfaas.natsserver.MAX_PAYLOAD
JS_HEADROOM = 64 * 1024  # what a publish needs beside its body


def nested(rng: random.Random, levels: int, leaf: str) -> str:
    kinds = [rng.random() < 0.5 for _ in range(levels)]
    return "".join('{"k":' if k else "[" for k in kinds) + leaf + "".join("}" if k else "]" for k in reversed(kinds))


def good_event(rng: random.Random, i: int) -> dict[str, Any]:
    return many(1, prefix=f"sensor.fuzz{i}_{rng.randrange(1000)}")[0]


def envelope(events_text: str, batch_id: str = "fuzz") -> bytes:
    return f'{{"v":1,"batch_id":"{batch_id}","events":[{events_text}]}}'.encode()


def event_with(rng: random.Random, i: int, attribute_text: str) -> str:
    """A real-shaped event whose attribute is raw JSON text (any depth, any literal)."""
    event = good_event(rng, i)
    event["data"]["new_state"]["attributes"]["fuzz"] = "@FUZZ@"
    return json.dumps(event).replace('"@FUZZ@"', attribute_text)


def mutated(rng: random.Random, i: int) -> bytes:
    """A valid batch with one field of one event replaced by a value of the wrong type."""
    events = [good_event(rng, i) for _ in range(rng.randint(1, 4))]
    victim = rng.choice(events)
    path = rng.choice([("event_type",), ("time_fired",), ("origin",), ("context",), ("context", "id"), ("data",),
                       ("data", "entity_id"), ("data", "new_state"), ("data", "new_state", "state"),
                       ("data", "new_state", "attributes"), ("data", "new_state", "last_updated")])
    target = victim
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = rng.choice([None, 0, -1, 1e308, True, "", "x" * 300, [], {}, [1, "a"], {"a": None},
                                   "2099-01-01T00:00:00+00:00", "not a time", "\u0000", "\U0001f525" * 10])
    return envelope(",".join(json.dumps(e) for e in events), f"mut-{i}")


def hostile(rng: random.Random, i: int) -> bytes:
    generators: list[Callable[[], bytes]] = [
        lambda: envelope(event_with(rng, i, nested(rng, rng.randint(10, 1100), rng.choice(['"x"', "1", "[1.5,2.5]"])))),
        lambda: envelope(",".join(event_with(rng, i, nested(rng, rng.randint(200, 260), "[1.5,1.5,1.5,1.5]"))
                                  for _ in range(rng.randint(1, 3))) + "," + json.dumps(good_event(rng, i))),
        lambda: nested(rng, rng.randint(1, 2000), "1").encode(),
        lambda: envelope(json.dumps(good_event(rng, i)))[: rng.randint(0, 400)],
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000))),
        lambda: envelope(event_with(rng, i, '"' + "\u00e9" * 10 + '"'))[:-3] + b"\xff\xfe\xed\xa0\x80]}",
        lambda: envelope(event_with(rng, i, rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "-0", "01",
                                                        "123456789012345678901234567890", '"\\ud800"']))),
        lambda: envelope(event_with(rng, i, json.dumps("y" * rng.randint(100_000, 1_200_000)))),
        lambda: json.dumps(rng.choice([
            {"v": 1, "batch_id": "fuzz", "events": rng.choice([None, {}, [], "x", 5, [None, 1, "s", [], {}]])},
            {"v": rng.choice([0, 2, "1", None]), "batch_id": "fuzz", "events": [good_event(rng, i)]},
            {"v": 1, "batch_id": rng.choice(["", "a b", "x" * 300, None, 7, "ünï"]), "events": [good_event(rng, i)]},
            {"events": [good_event(rng, i)]}, [good_event(rng, i)], None, "just a string", 3.5,
        ])).encode(),
        lambda: mutated(rng, i),
        lambda: envelope(",".join(["{}"] * 10_001)),
        lambda: b'{"v":1,"v":1,"batch_id":"dup","batch_id":"dup2","events":[' + json.dumps(
            good_event(rng, i)).encode() + b"]}",
    ]
    return rng.choice(generators)()


def near_max_payload(rng: random.Random, i: int) -> bytes:
    """Bodies just under what JetStream takes: invalid UTF-8 (kept as base64: 4/3 larger) and valid JSON."""
    size = NATS_MAX_PAYLOAD - JS_HEADROOM - rng.randrange(1024 * 1024)
    if i % 2:
        return b"\xff" * size
    return envelope(event_with(rng, i, json.dumps("z" * (size - 1500))))


def payloads(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    found = [hostile(rng, i) for i in range(PAYLOADS - 2)]
    return found + [near_max_payload(rng, i) for i in range(2)]


def pids(runtime: LocalRuntime) -> dict[str, int]:
    return {name: runtime.function_pid(name) for name in runtime.ready["pids"]}  # the functions kept warm


def outcome(runtime: LocalRuntime, name: str) -> float:
    return sample(f"{runtime.gateway}/metrics", "ha_ingestor_connector_messages_total",
                  function="validate", topic=subjects.RAW, outcome=name)


def test_hostile_raw_payloads_neither_crash_nor_wedge_nor_lose_anything(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    before = pids(runtime)
    bodies = payloads(SEED)

    for body in bodies:
        reply = runtime.signed_call("POST", "validate", body, {"Content-Type": "application/json"})
        assert reply.status < 500 or reply.status == 503, (reply.status, body[:200], reply.body[:300])

    for n, body in enumerate(bodies):
        js.publish(subjects.RAW, body, msg_id=f"fuzz-{SEED}-{n}")
    good = many(1, prefix="sensor.after_fuzz")
    js.publish_batch(subjects.RAW, f"after-fuzz-{SEED}", good)

    store = open_event_store(f"sqlite:///{runtime.workdir}/data/events.db")
    try:
        assert wait_for(lambda: store.count(EventFilter(entity_id=good[0]["data"]["entity_id"])) == 1, 90)
    finally:
        store.close()
    published = len(bodies) + 1
    assert wait_for(lambda: outcome(runtime, "acked") + outcome(runtime, "dlq_bad_input") >= published, 60)
    assert (outcome(runtime, "retried"), outcome(runtime, "dlq_max_deliveries")) == (0, 0)  # never a 5xx
    durables = ["validate--ha_events_raw", "normalize--ha_events_valid", "weather-enrich--ha_events_normalized",
                "write--ha_events_enriched"]
    assert wait_for(lambda: all(js.backlog(d) == (0, 0) for d in durables), 60), {d: js.backlog(d) for d in durables}

    refused = [m for m in js.messages(subjects.DLQ) if m["stage"] == "validate" and m.get("kind") == "bad_input"]
    assert len(refused) == outcome(runtime, "dlq_bad_input")
    assert all(m["entries"][0]["reason"] and "payload_bytes" in m["entries"][0] for m in refused)
    assert pids(runtime) == before
