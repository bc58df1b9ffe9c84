"""Events per second through raw -> validate -> normalize, with and without the local runtime.

Through the runtime: batches published on ha.events.raw, timed until every event is on
ha.events.normalized (connector -> gateway -> function -> NATS, twice). In process: the same two
handlers called directly, each still publishing to the same real nats-server, so the ratio is the
runtime's overhead (HTTP hops, connector, acks). Prints figures; asserts nothing about time.

    make bench            (or: python bench/pipeline_throughput.py --events 20000)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

import nats  # noqa: E402

from ingestor import bus, envelope, jsoncodec  # noqa: E402
from tests.support.ha_events import many  # noqa: E402
from tests.support.runtime import LocalRuntime  # noqa: E402

BATCH_SIZES = (1, 100, 500)


def events_for(batch: int, total: int, run: str) -> list[list[dict]]:
    events = many(total, prefix=f"sensor.bench_{run}_{batch}",
                  start=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    return [events[i:i + batch] for i in range(0, total, batch)]


async def through_runtime(nats_url: str, batches: list[list[dict]], tag: str) -> float:
    total = sum(len(b) for b in batches)
    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=30)
    seen = 0
    done = asyncio.Event()

    async def count(msg) -> None:  # core subscription: sees every JetStream publish on the subject
        nonlocal seen
        doc = jsoncodec.loads(msg.data)
        if doc["batch_id"].startswith(tag):
            seen += len(doc["events"])
            if seen >= total:
                done.set()

    await nc.subscribe("ha.events.normalized", cb=count)
    started = time.perf_counter()
    for chunk in range(0, len(batches), 64):
        await asyncio.gather(*(js.publish("ha.events.raw", envelope.encode(f"{tag}-{i}", b),
                                          headers={"Nats-Msg-Id": f"{tag}-{i}"})
                               for i, b in enumerate(batches[chunk:chunk + 64], start=chunk)))
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - started
    await nc.close()
    return total / elapsed


def load_handler(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "functions" / name / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_process(validate: ModuleType, normalize: ModuleType, batches: list[list[dict]], tag: str) -> float:
    total = sum(len(b) for b in batches)
    started = time.perf_counter()
    for i, batch in enumerate(batches):
        body = envelope.encode(f"{tag}-{i}", batch)
        assert validate.handle(SimpleNamespace(body=body, headers={}), None)["statusCode"] == 200
        valid = envelope.encode(envelope.derive_id(f"{tag}-{i}", "validate"), batch)
        assert normalize.handle(SimpleNamespace(body=valid, headers={}), None)["statusCode"] == 200
    return total / (time.perf_counter() - started)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per batch size (batch 1: a tenth)")
    args = parser.parse_args()
    run = str(int(time.time()))
    with tempfile.TemporaryDirectory() as tmp, LocalRuntime(Path(tmp), stack=REPO / "stack.yml") as rt:
        os.environ["NATS_URL"] = rt.nats_url
        validate, normalize = load_handler("validate"), load_handler("normalize")
        print(f"# raw -> normalized, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
        print("| batch size | events | runtime (events/s) | in-process (events/s) | runtime overhead |")
        print("|---:|---:|---:|---:|---:|")
        for size in BATCH_SIZES:
            total = max(args.events // 10, size) if size == 1 else args.events
            runtime_rate = asyncio.run(through_runtime(rt.nats_url, events_for(size, total, run + "rt"),
                                                       f"bench-{run}-rt-{size}"))
            local_rate = in_process(validate, normalize, events_for(size, total, run + "ip"), f"bench-{run}-ip-{size}")
            print(f"| {size} | {total} | {runtime_rate:,.0f} | {local_rate:,.0f} | {local_rate / runtime_rate:.1f}x |",
                  flush=True)
        bus.default().close()  # before the runtime stops its nats-server


if __name__ == "__main__":
    main()
