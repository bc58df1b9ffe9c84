"""CPU per event of each pipeline stage's own work, in process: validate, normalize, weather-enrich and write.

Each stage's handler is called on batches of the benchmark's realistic HA events (bench/pipeline_throughput.py's),
one after the other, each with the envelope the one before it published, against an SQLite store of its own. The
bus publishes into a list, so what is measured is the stage (decoding, checks, records, rows, its own encoding),
not NATS or HTTP. Figures are the calling thread's CPU time per event of a batch: the median and the fastest of
all batches after two to warm up. On a shared machine compare runs made back to back, and the fastest first.

    python bench/stage_cpu.py [--batches 150] [--size 100] [--profile write]

`--profile STAGE` prints that stage's cProfile (thread CPU time) as well. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common")]

from bench.pipeline_throughput import STAGES, load, load_handler, machine  # noqa: E402
from ingestor import bus, envelope  # noqa: E402
from tests.support.ha_events import many  # noqa: E402


class ListBus:
    """The bus a stage publishes on, keeping each envelope as the real one would send it (encoded)."""

    max_payload = 8 * 1024 * 1024

    def __init__(self) -> None:
        self.published: list[bytes] = []

    def envelopes(self, subject: str, batch_id: str, events: list[Any]) -> list[bus.Message]:
        return [(subject, envelope.encode(batch_id, events), batch_id)]

    def publish_all(self, messages: list[bus.Message]) -> list[bool]:
        self.published += [payload for _, payload, _ in messages]
        return [False] * len(messages)

    def publish_batch(self, subject: str, batch_id: str, events: list[Any]) -> int:
        return len(self.publish_all(self.envelopes(subject, batch_id, events)))

    def publish(self, subject: str, payload: bytes, msg_id: str) -> bool:
        self.published.append(payload)
        return False

    def call(self, fn: Any, timeout: float | None = None) -> dict[str, Any]:
        return {}  # the context cache: nothing polled, as in bench/pipeline_throughput.py

    def is_connected(self) -> bool:
        return True

    def close(self) -> None:
        pass


def measure(batches: int, size: int, profile: str) -> tuple[dict[str, list[float]], cProfile.Profile | None]:
    """Thread CPU seconds of each stage per batch (the first two batches left out)."""
    fake = ListBus()
    bus._default = fake  # type: ignore[assignment]
    handlers = {name: load_handler(name) for name, _ in STAGES}
    events = many(size * (batches + 2), prefix=f"sensor.stage_cpu_{int(time.time())}",
                  start=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    spent: dict[str, list[float]] = {name: [] for name, _ in STAGES}
    profiler = cProfile.Profile(time.thread_time) if profile else None
    for i in range(batches + 2):
        body = envelope.encode(f"stage-cpu-{i}", events[i * size:(i + 1) * size])
        for name, subject in STAGES:
            request = SimpleNamespace(body=body, headers={"X-Nats-Subject": subject}, method="POST", path="/",
                                      query={})
            profiling = profiler is not None and name == profile and i >= 2
            if profiling:
                profiler.enable()  # type: ignore[union-attr]
            before = time.thread_time()
            answer = handlers[name].handle(request, None)
            after = time.thread_time()
            if profiling:
                profiler.disable()  # type: ignore[union-attr]
            assert answer["statusCode"] == 200, answer
            if i >= 2:
                spent[name].append(after - before)
            if name != "write":
                body = fake.published.pop()
    return spent, profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--size", type=int, default=100, help="events per batch")
    parser.add_argument("--profile", default="", choices=["", *(name for name, _ in STAGES)])
    args = parser.parse_args()
    print(f"# stage CPU in process, batches of {args.size}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
          f"{machine()}, {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"EVENT_STORE_URL": f"sqlite:///{tmp}/events.db", "DATA_DIR": tmp,
                           "FUNCTION_NAME": "bench", "NATS_URL": "nats://127.0.0.1:1"})
        spent, profiler = measure(args.batches, args.size, args.profile)
    print(f"# finished {dt.datetime.now(dt.UTC):%H:%M} UTC, {load()}\n")
    print("| stage | median (µs an event) | fastest |")
    print("|---|---:|---:|")
    medians = fastest = 0.0
    for name, seconds in spent.items():
        seconds.sort()
        median, best = seconds[len(seconds) // 2] * 1e6 / args.size, seconds[0] * 1e6 / args.size
        medians, fastest = medians + median, fastest + best
        print(f"| {name} | {median:.1f} | {best:.1f} |")
    print(f"| total | {medians:.1f} | {fastest:.1f} |")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
