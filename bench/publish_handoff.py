"""What a stage's publish costs its process: one hand-off to the bus's loop per message, or one for several.

A handler runs on a WSGI thread and publishes through ingestor.bus, whose event loop owns the NATS connection: each
`Bus.publish` hands a coroutine to that loop and waits for JetStream's acknowledgement. A coalesced call (the topic
connector's, under a backlog) publishes one message per batch; `Bus.publish_all` hands them over at once and awaits
their acknowledgements together. This measures the process's CPU (both threads) per 95 KB message (a batch of 100
realistic HA events, encoded each time as a stage does) against a nats-server of its own: one at a time, and in
groups of `--together`. Prints figures; asserts nothing about time.

    python bench/publish_handoff.py --messages 400 --together 4 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.pipeline_throughput import create_stream, load, machine  # noqa: E402
from ingestor import envelope, subjects  # noqa: E402
from ingestor.bus import Bus  # noqa: E402
from localfaas.natsserver import NatsServer  # noqa: E402
from tests.support.ha_events import many  # noqa: E402


def per_message(bus: Bus, messages: int, together: int, tag: str) -> tuple[float, float]:
    """(ms of the process's CPU, ms of wall time) per message, published `together` at a time."""
    events = many(100, prefix="sensor.handoff")
    cpu, wall = time.process_time(), time.perf_counter()
    for first in range(0, messages, together):
        group = range(first, min(first + together, messages))
        bus.publish_all([(subjects.VALID, envelope.encode(f"{tag}-{i}", events), f"{tag}-{i}") for i in group])
    return ((time.process_time() - cpu) * 1000 / messages, (time.perf_counter() - wall) * 1000 / messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--together", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"# publish hand-off, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}, {load()}")
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp)) as server:
        asyncio.run(create_stream(server.url))
        bus = Bus(server.url, name="publish-handoff")
        try:
            print("| run | one hand-off each: CPU / wall (ms a message) "
                  f"| {args.together} per hand-off: CPU / wall |\n|---:|---:|---:|")
            for run in range(args.runs):
                tag = f"{os.getpid()}-{run}"
                alone = per_message(bus, args.messages, 1, f"alone-{tag}")
                grouped = per_message(bus, args.messages, args.together, f"together-{tag}")
                print(f"| {run + 1} | {alone[0]:.2f} / {alone[1]:.2f} | {grouped[0]:.2f} / {grouped[1]:.2f} |")
        finally:
            bus.close()
    print(f"# finished, {load()}")


if __name__ == "__main__":
    main()
