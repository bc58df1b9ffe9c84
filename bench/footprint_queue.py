"""Queue bytes per event: at steady state, and after a 1-hour store outage of a busy home (18 events/s).

A nats-server of its own with the queue's streams (ingestor.streams: HA, HA_REPLAY, HA_DLQ) and the consumers
the topic connector makes for the pipeline. The stages are stood in for in this process, each with the payload
the real one hands on: validate passes the bridge's envelope of raw HA events on to ha.events.valid, normalize
and weather-enrich publish the event records (ingestor.normalization) on ha.events.normalized and
ha.events.enriched (weather-enrich's context values left out: its records are as normalize's), write and
webhook-dispatch acknowledge them. Every publish carries its Nats-Msg-Id as the
real ones do. Events are HA state_changed events shaped like the recorded sample (tests.support.ha_events),
each with its own context id, in batches of 18 (one second of a busy home).

1. Steady state: STEADY_S seconds of the home's events, at an accelerated rate, every stage keeping up; then
   the queue's bytes (JetStream's figure per stream, and the files on disk) over the events it holds for replay.
2. Store outage: write stops acknowledging while an hour of the home's events (64,800) is published at an
   accelerated rate (the other stages keep up); the queue's bytes then, per event of the outage; then write
   comes back and the backlog drains.

Prints figures (with the load average); asserts nothing.

    python bench/footprint_queue.py [--steady-s 600] [--outage-s 3600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

import nats  # noqa: E402
from nats.js import JetStreamContext  # noqa: E402

from ingestor import envelope, jsoncodec, normalization, streams, subjects  # noqa: E402
from localfaas.natsserver import NatsServer  # noqa: E402
from tests.support.ha_events import many  # noqa: E402

RATE = 18  # events a second: a busy home
STAGES = (("validate", subjects.RAW, subjects.VALID), ("normalize", subjects.VALID, subjects.NORMALIZED),
          ("weather-enrich", subjects.NORMALIZED, subjects.ENRICHED), ("write", subjects.ENRICHED, None),
          ("webhook-dispatch", subjects.ENRICHED, None))
STREAMS = (subjects.STREAM, subjects.REPLAY_STREAM, subjects.DLQ_STREAM)


def events(count: int) -> list[dict[str, Any]]:
    out = many(count, prefix="sensor.footprint")
    for event in out:
        event["context"] = {**event["context"], "id": uuid.uuid4().hex[:26].upper()}
        event["data"]["new_state"]["context"] = event["context"]
    return out


def records(payload: bytes) -> list[Any]:
    return [normalization.normalize_event(e) for e in jsoncodec.loads(payload)["events"]]


class Pipeline:
    """The stand-in stages, each a pull consumer that publishes its output before it acknowledges its input."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.paused: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for function, source, _ in STAGES:
            await self.js.add_consumer(subjects.STREAM, streams.consumer_config(function, source))
        self.tasks = [asyncio.create_task(self._run(*stage)) for stage in STAGES]

    async def _run(self, function: str, source: str, target: str | None) -> None:
        sub = await self.js.pull_subscribe_bind(subjects.durable_name(function, source), subjects.STREAM)
        while True:
            if function in self.paused:
                await asyncio.sleep(0.1)
                continue
            try:
                msgs = await sub.fetch(64, timeout=0.5)
            except TimeoutError:
                continue
            for msg in msgs:
                if target is not None:
                    batch_id = jsoncodec.loads(msg.data)["batch_id"]
                    payload = envelope.encode(batch_id, records(msg.data)) if function == "normalize" else msg.data
                    await self.js.publish(target, payload, headers={"Nats-Msg-Id": f"{batch_id}:{function}"})
                await msg.ack()

    async def drained(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for task in self.tasks:
                if task.done():
                    task.result()  # a stand-in stage that failed: its error, not a wait until the deadline
            infos = [await self.js.consumer_info(subjects.STREAM, subjects.durable_name(f, s)) for f, s, _ in STAGES]
            if all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
                return
            await asyncio.sleep(0.5)
        raise TimeoutError("the stand-in stages did not drain")

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def publish(js: JetStreamContext, prefix: str, count: int) -> None:
    all_events = events(count)
    for n, first in enumerate(range(0, count, RATE)):
        batch_id = f"{prefix}-{n}"
        await js.publish(subjects.RAW, envelope.encode(batch_id, all_events[first:first + RATE]),
                         headers={"Nats-Msg-Id": batch_id})


def disk_bytes(path: Path) -> int:
    return sum(os.stat(os.path.join(d, f)).st_blocks * 512 for d, _, files in os.walk(path) for f in files)


async def figures(js: JetStreamContext, server: NatsServer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in STREAMS:
        state = (await js.stream_info(name)).state
        out[name] = (state.messages, state.bytes)
    out["disk"] = disk_bytes(server.store_dir / "jetstream")
    return out


def show(label: str, found: dict[str, Any], events_held: int, what: str = "held") -> None:
    stream_bytes = sum(found[n][1] for n in STREAMS)
    print(f"{label}: " + ", ".join(f"{n} {found[n][0]} messages {found[n][1]:,} B" for n in STREAMS)
          + f"; on disk {found['disk']:,} B")
    print(f"  per event {what} ({events_held:,}): {stream_bytes / events_held:,.0f} B by JetStream's count, "
          f"{found['disk'] / events_held:,.0f} B on disk")


async def main(steady_s: int, outage_s: int) -> None:
    print(f"footprint_queue: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream(timeout=30)
        await streams.ensure_all(js)
        pipeline = Pipeline(js)
        await pipeline.start()

        steady = steady_s * RATE
        started = time.monotonic()
        await publish(js, "steady", steady)
        await pipeline.drained()
        took = time.monotonic() - started
        print(f"steady state: {steady:,} events ({steady_s} s of {RATE} events/s) published and consumed in "
              f"{took:.1f} s ({steady / took:,.0f} events/s)")
        await asyncio.sleep(2)  # the interest removals and the replay copy settle
        show("  after", await figures(js, server), steady)

        outage = outage_s * RATE
        pipeline.paused.add("write")
        started = time.monotonic()
        await publish(js, "outage", outage)
        while (await js.consumer_info(subjects.STREAM, subjects.durable_name("webhook-dispatch",
                                                                          subjects.ENRICHED))).num_pending:
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)
        took = time.monotonic() - started
        print(f"store outage: {outage:,} events ({outage_s} s of {RATE} events/s) published in {took:.1f} s "
              f"(accelerated {outage_s / took:.0f}x) while write acknowledged nothing")
        found = await figures(js, server)
        show("  backlog", found, outage, "of the outage (the replay copy holds the steady state's too)")
        print(f"  the queue (HA) alone: {found[subjects.STREAM][1] / outage:,.0f} B per event of the outage")
        pipeline.paused.discard("write")
        started = time.monotonic()
        await pipeline.drained()
        print(f"  write back: the backlog drained in {time.monotonic() - started:.1f} s")
        await asyncio.sleep(2)
        show("  after", await figures(js, server), steady + outage)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        await pipeline.stop()
        await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steady-s", type=int, default=600, help="seconds of the home's events at steady state")
    parser.add_argument("--outage-s", type=int, default=3600, help="seconds of the store outage")
    args = parser.parse_args()
    asyncio.run(main(args.steady_s, args.outage_s))
