"""Events per second from ha.events.raw to rows in the event store, through the local runtime and in process.

Through the runtime: the whole stack.yml runs (`python -m localfaas`, SQLite event store in its data dir);
batches are published on ha.events.raw and timed until every event is a row in the store (topic connector ->
gateway -> function -> JetStream, four times: validate, normalize, weather-enrich, write). The time until every
event is on ha.events.normalized is shown too, as the earlier raw -> normalized figures were measured.
CPU-seconds per 10,000 events are read from /proc for each function's process, the runtime's own process
(gateway, connectors) and nats-server.

In process: the same four handlers called one after the other in this process, each with the message the
one before it published, against a nats-server of their own (no connector) and an SQLite store of their own,
so the ratio is the runtime's overhead (HTTP hops, connector, acks). Prints figures; asserts nothing about time.

    make bench            (or: python bench/pipeline_throughput.py --events 20000 --sizes 1,100,500)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

import nats  # noqa: E402

from bench import storerows  # noqa: E402
from ingestor import envelope, jsoncodec, streams, subjects  # noqa: E402
from localfaas.natsserver import NatsServer  # noqa: E402
from tests.support.ha_events import many  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402
from tests.support.runtime import LocalRuntime  # noqa: E402

STAGES = (("validate", subjects.RAW), ("normalize", subjects.VALID),
          ("weather-enrich", subjects.NORMALIZED), ("write", subjects.ENRICHED))
TICK = os.sysconf("SC_CLK_TCK")


def events_for(batch: int, total: int, prefix: str) -> list[list[dict[str, Any]]]:
    events = many(total, prefix=prefix, start=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    return [events[i:i + batch] for i in range(0, total, batch)]


def stored(db: Path, prefix: str) -> int:
    """Events of the run's entities (`<prefix>_0` … `<prefix>_9`) in the SQLite event store."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(storerows.ENTITIES_BETWEEN, (prefix + "_", prefix + "_~")).fetchone()[0]
    except sqlite3.OperationalError:  # the tables are not created before the first write
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (its threads included), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def nats_server_pid(runtime_pid: int) -> int | None:
    for pid in children(runtime_pid):
        try:
            if b"nats-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


class Capture:
    """Every message published on `subject` (ha.events.> by default), by batch id, seen through a core
    subscription. Through the runtime it watches ha.events.normalized only: every message it is sent is work for
    nats-server that the pipeline itself does not do."""

    def __init__(self, url: str, subject: str = "ha.events.>") -> None:
        self._subject = subject
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self._messages: dict[str, bytes] = {}
        self._normalized: dict[str, int] = {}
        self._cond = threading.Condition()
        self.nc = asyncio.run_coroutine_threadsafe(self._connect(url), self._loop).result(10)

    async def _connect(self, url: str) -> Any:
        nc = await nats.connect(url)
        await nc.subscribe(self._subject, cb=self._seen)
        return nc

    async def _seen(self, msg: Any) -> None:
        doc = jsoncodec.loads(msg.data)
        with self._cond:
            self._messages[doc["batch_id"]] = msg.data
            if msg.subject == subjects.NORMALIZED:
                tag = doc["batch_id"].rsplit("-", 1)[0]
                self._normalized[tag] = self._normalized.get(tag, 0) + len(doc["events"])
            self._cond.notify_all()

    def take(self, batch_id: str, timeout: float = 30) -> bytes:
        with self._cond:
            if not self._cond.wait_for(lambda: batch_id in self._messages, timeout):
                raise TimeoutError(f"nothing published as {batch_id}")
            return self._messages.pop(batch_id)

    def normalized(self, tag: str) -> int:
        with self._cond:
            return self._normalized.get(tag, 0)

    def forget(self) -> None:
        with self._cond:
            self._messages.clear()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.nc.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


async def publish_all(nats_url: str, batches: list[list[dict[str, Any]]], tag: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=30)
    for chunk in range(0, len(batches), 64):
        await asyncio.gather(*(js.publish(subjects.RAW, envelope.encode(f"{tag}-{i}", b),
                                          headers={"Nats-Msg-Id": f"{tag}-{i}"})
                               for i, b in enumerate(batches[chunk:chunk + 64], start=chunk)))
    await nc.close()


async def create_stream(nats_url: str) -> None:
    """What the runtime does at start: the HA stream every subject lives in."""
    nc = await nats.connect(nats_url)
    await streams.ensure_all(nc.jetstream(timeout=10))
    await nc.close()


def through_runtime(rt: LocalRuntime, capture: Capture, batches: list[list[dict[str, Any]]], prefix: str,
                    tag: str) -> tuple[float, float, dict[str, float]]:
    """(raw -> normalized, raw -> stored) in events/s, and CPU-seconds per process over the run."""
    total = sum(len(b) for b in batches)
    db = rt.workdir / "data" / "events.db"
    pids = {name: rt.function_pid(name) for name in [*(n for n, _ in STAGES), "webhook-dispatch"]}
    pids["runtime (gateway, connectors)"] = rt.proc.pid if rt.proc else 0
    pids["nats-server"] = nats_server_pid(pids["runtime (gateway, connectors)"]) or 0
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    asyncio.run(publish_all(rt.nats_url, batches, tag))
    normalized_at = None
    while (count := stored(db, prefix)) < total:
        if normalized_at is None and capture.normalized(tag) >= total:
            normalized_at = time.perf_counter()
        if time.perf_counter() - started > 1800:
            raise TimeoutError(f"{count} of {total} events stored after 30 minutes")
        time.sleep(0.05)
    stored_at = time.perf_counter()
    normalized_at = normalized_at or stored_at
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    return total / (normalized_at - started), total / (stored_at - started), cpu


def load_handler(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name.replace('-', '_')}",
                                                  REPO / "functions" / name / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def request(body: bytes, subject: str) -> SimpleNamespace:
    """The python3-http event a connector's call becomes."""
    return SimpleNamespace(body=body, headers={"X-Nats-Subject": subject}, method="POST", path="/", query={})


def in_process(handlers: dict[str, ModuleType], capture: Capture, batches: list[list[dict[str, Any]]],
               db: Path, prefix: str, tag: str) -> tuple[float, dict[str, float]]:
    """raw -> stored in events/s, and this thread's CPU-seconds per stage."""
    total = sum(len(b) for b in batches)
    cpu = dict.fromkeys(handlers, 0.0)
    started = time.perf_counter()
    for i, batch in enumerate(batches):
        body = envelope.encode(f"{tag}-{i}", batch)
        for name, subject in STAGES:
            before = time.thread_time()
            answer = handlers[name].handle(request(body, subject), None)
            cpu[name] += time.thread_time() - before
            assert answer["statusCode"] == 200, answer
            if name != "write":
                body = capture.take(jsoncodec.loads(answer["body"])["batch_id"])
    elapsed = time.perf_counter() - started
    assert stored(db, prefix) == total, f"{stored(db, prefix)} of {total} stored"
    return total / elapsed, cpu


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def per_10k(cpu: dict[str, float], events: int) -> dict[str, float]:
    return {name: seconds * 10_000 / events for name, seconds in cpu.items()}


def cpu_table(title: str, rows: dict[int, dict[str, float]]) -> None:
    names = list(next(iter(rows.values())))
    print(f"\n{title}\n")
    print("| process | " + " | ".join(f"batch {size}" for size in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for name in [*names, "total"]:
        figures = [sum(r.values()) if name == "total" else r[name] for r in rows.values()]
        print(f"| {name} | " + " | ".join(f"{x:.2f}" for x in figures) + " |")


def run_in_process(work: Path, sizes: list[int], totals: dict[int, int], run: str) -> dict[int, tuple[float, dict]]:
    db = work / "in-process" / "events.db"
    db.parent.mkdir(parents=True)
    results: dict[int, tuple[float, dict]] = {}
    with NatsServer(work / "in-process" / "nats") as server, environment({
            "NATS_URL": server.url, "EVENT_STORE_URL": f"sqlite:///{db}", "DATA_DIR": str(db.parent),
            "FUNCTION_NAME": "bench"}):
        asyncio.run(create_stream(server.url))
        capture = Capture(server.url)
        handlers = {name: load_handler(name) for name, _ in STAGES}
        in_process(handlers, capture, events_for(10, 10, f"sensor.warm_{run}"), db, f"sensor.warm_{run}",
                   f"warm-{run}")
        for size in sizes:
            prefix = f"sensor.bench_{run}_ip_{size}"
            rate, cpu = in_process(handlers, capture, events_for(size, totals[size], prefix), db, prefix,
                                   f"bench-{run}-ip-{size}")
            results[size] = (rate, per_10k(cpu, totals[size]))
            capture.forget()
            print(f"# in process, batch {size}: {rate:,.0f} events/s ({load()})", file=sys.stderr, flush=True)
        capture.close()
        from ingestor import bus

        bus.default().close()  # before the nats-server stops
    return results


def run_through_runtime(work: Path, sizes: list[int], totals: dict[int, int],
                        run: str) -> dict[int, tuple[float, float, dict]]:
    results: dict[int, tuple[float, float, dict]] = {}
    runtime_dir = work / "runtime"
    runtime_dir.mkdir()
    env = {"EVENT_STORE_URL": "", "METADATA_DB_URL": ""}  # the stack's defaults: SQLite in its data dir
    with LocalRuntime(runtime_dir, stack=REPO / "stack.yml", env=env) as rt:
        capture = Capture(rt.nats_url, subjects.NORMALIZED)
        db = runtime_dir / "data" / "events.db"
        warm = f"sensor.warm_{run}"
        asyncio.run(publish_all(rt.nats_url, events_for(10, 10, warm), f"warm-{run}"))
        if not wait_for(lambda: stored(db, warm) == 10, timeout=120):
            raise RuntimeError(f"warm-up not stored; see {rt.log}")
        for size in sizes:
            prefix = f"sensor.bench_{run}_rt_{size}"
            normalized, rate, cpu = through_runtime(rt, capture, events_for(size, totals[size], prefix), prefix,
                                                    f"bench-{run}-rt-{size}")
            results[size] = (normalized, rate, per_10k(cpu, totals[size]))
            capture.forget()
            print(f"# runtime, batch {size}: {rate:,.0f} events/s stored ({load()})", file=sys.stderr, flush=True)
        capture.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per batch size (batch 1: a tenth)")
    parser.add_argument("--sizes", default="1,100,500", help="batch sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    totals = {size: max(args.events // 10, size) if size == 1 else args.events for size in sizes}
    run = str(int(time.time()))
    print(f"# raw -> stored (SQLite), {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}, {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        local = run_in_process(Path(tmp), sizes, totals, run)
        remote = run_through_runtime(Path(tmp), sizes, totals, run)
    print(f"# finished {dt.datetime.now(dt.UTC):%H:%M} UTC, {load()}\n")
    print("| batch size | events | runtime raw -> stored (events/s) | in-process raw -> stored | runtime overhead "
          "| runtime raw -> normalized |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        normalized, rate, _ = remote[size]
        local_rate = local[size][0]
        print(f"| {size} | {totals[size]:,} | {rate:,.0f} | {local_rate:,.0f} | {local_rate / rate:.1f}x "
              f"| {normalized:,.0f} |")
    cpu_table("CPU-seconds per 10,000 events, through the runtime (each process over the run)",
              {size: remote[size][2] for size in sizes})
    cpu_table("CPU-seconds per 10,000 events, in process (the calling thread in each handler; the NATS client's "
              "thread not included)", {size: local[size][1] for size in sizes})


if __name__ == "__main__":
    main()
