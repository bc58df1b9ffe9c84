"""The whole stack's footprint as `make run` runs it: memory idle and under load, CPU per event, cold starts.

The stack.yml runs in the local runtime (`python -m localfaas`, SQLite event store in its data dir), with the
HTTP and cron functions scaled to zero until called (localfaas.scaletozero; SCALE_ZERO_DURATION shortened
to --zero-duration so the cold starts can be repeated). Figures:

1. Idle: the resident memory (RSS) of every process of the stack (the runtime: gateway, connectors; nats-server;
   each function's process), sampled every 2 s for --idle seconds: the lowest sample is the stack with every
   HTTP/cron function at zero, the mean includes the per-minute cron functions' ticks (started, then stopped
   CRON_SCALE_ZERO_DURATION later).
2. Load: --rate events/s published on ha.events.raw in messages of --batch events (as the bridge batches them)
   until --events; RSS sampled meanwhile; CPU-seconds of every process of the stack per 10,000 events, from
   the first publish until every event is a row in the store.
3. Cold start: for each HTTP function, the latency of a call to it at zero replicas (from the call until its
   first answer), --cold times each; then its RSS after start and after --requests calls. metadata-sync
   (topic-triggered, at zero between registry snapshots): from the publish of a snapshot until the function
   has answered the connector's call, --cold times; its RSS after that.

Per-function RSS for the pipeline stages is read after start (1.) and after the load (2., --events/--batch
calls each). Then queue bytes per event (JetStream) at steady state and after a 1-hour store outage:
bench/footprint_queue.py, run after the stack has stopped (its own nats-server; --no-queue skips it). Prints
figures with the machine and its load average; asserts nothing.

    .venv/bin/python bench/footprint.py            (about 5 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

import nats  # noqa: E402

from bench.pipeline_throughput import children, cpu_seconds, load, machine, stored  # noqa: E402
from ingestor import envelope, subjects  # noqa: E402
from tests.metadata.test_metadata import snapshot as registry_snapshot  # noqa: E402
from tests.support.ha_events import many  # noqa: E402
from tests.support.http import call  # noqa: E402
from tests.support.runtime import LocalRuntime  # noqa: E402

PAGE_KB = 4
HTTP_CALLS = {"query": "/events?limit=20", "dashboard": "/", "webhooks": "/openapi.json"}  # health: warm (alerts)


def tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found = [pid]
    for child in children(pid):
        found += tree(child)
    return found


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB / 1024
    except OSError:
        return 0.0


def name_of(pid: int) -> str:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    for entry in environ:
        if entry.startswith(b"FUNCTION_NAME="):
            return entry.split(b"=", 1)[1].decode()
    return "nats-server" if b"nats-server" in cmdline else "runtime (gateway, connectors)"


def snapshot(root: int) -> dict[str, float]:
    """RSS in MB of every process of the stack, by name."""
    return {name_of(pid): rss_mb(pid) for pid in tree(root)}


class Sampler:
    """The stack's total RSS every `every` seconds, in a thread, until stop()."""

    def __init__(self, root: int, every: float = 2.0) -> None:
        self.root, self.every, self.totals = root, every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.totals.append(sum(snapshot(self.root).values()))
            self._stop.wait(self.every)

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return self.totals


def stack_cpu(root: int) -> float:
    return sum(cpu_seconds(pid) for pid in tree(root))


async def publish_at(nats_url: str, events: list[dict[str, Any]], batch: int, rate: float, tag: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=30)
    started = time.perf_counter()
    for n, i in enumerate(range(0, len(events), batch)):
        await asyncio.sleep(max(0.0, started + n * batch / rate - time.perf_counter()))
        await js.publish(subjects.RAW, envelope.encode(f"{tag}-{n}", events[i:i + batch]),
                         headers={"Nats-Msg-Id": f"{tag}-{n}"})
    await nc.close()


def replicas(rt: LocalRuntime, name: str) -> int:
    return call("GET", f"{rt.gateway}/system/function/{name}").json()["replicas"]


def invocations(rt: LocalRuntime, name: str) -> int:
    return call("GET", f"{rt.gateway}/system/function/{name}").json()["invocationCount"]


async def publish_registry(nats_url: str, snapshot_id: str) -> None:
    nc = await nats.connect(nats_url)
    body = envelope.encode(snapshot_id, registry_snapshot(snapshot_id))
    await nc.jetstream(timeout=30).publish(subjects.REGISTRY, body, headers={"Nats-Msg-Id": snapshot_id})
    await nc.close()


def registry_cold_start(rt: LocalRuntime, tag: str) -> float:
    """From a registry snapshot's publish, metadata-sync at zero, until it has answered the connector's call."""
    wait_scaled_to_zero(rt, "metadata-sync")
    before, t0 = invocations(rt, "metadata-sync"), time.perf_counter()
    asyncio.run(publish_registry(rt.nats_url, tag))
    while invocations(rt, "metadata-sync") == before:
        if time.perf_counter() - t0 > 120:
            raise TimeoutError("metadata-sync did not take a registry snapshot within 120 s")
        time.sleep(0.02)
    return time.perf_counter() - t0


def wait_scaled_to_zero(rt: LocalRuntime, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while replicas(rt, name) != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not scaled to zero in {timeout:g} s")
        time.sleep(0.2)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=float, default=70, help="seconds of idle sampling")
    parser.add_argument("--rate", type=float, default=100, help="events per second under load")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10, help="events per message")
    parser.add_argument("--cold", type=int, default=3, help="cold starts per HTTP function")
    parser.add_argument("--requests", type=int, default=1000, help="calls per HTTP function after its start")
    parser.add_argument("--zero-duration", default="3s", help="SCALE_ZERO_DURATION for this run")
    parser.add_argument("--no-queue", action="store_true", help="skip bench/footprint_queue.py")
    args = parser.parse_args()
    print(f"# Footprint: {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {load()} at start\n")
    with tempfile.TemporaryDirectory() as tmp, \
            LocalRuntime(Path(tmp), stack=REPO / "stack.yml",
                         env={"SCALE_ZERO_DURATION": args.zero_duration, "LOG_LEVEL": "WARNING"}) as rt:
        assert rt.proc is not None
        root = rt.proc.pid
        print(f"scaled to zero at start: {', '.join(rt.ready.get('scaled_to_zero', [])) or 'none'}\n")
        after_start = snapshot(root)
        sampler = Sampler(root)
        time.sleep(args.idle)
        idle = sampler.stop()
        print(f"## Idle ({args.idle:g} s, {load()})\n")
        table([("whole stack, every HTTP/cron function at zero (lowest sample)", f"{min(idle):.0f} MB"),
               ("whole stack, mean (per-minute cron functions up part of the time)", f"{statistics.mean(idle):.0f} MB"),
               ("processes at start", str(len(after_start)))], ("figure", "value"))

        tag = f"fp{int(time.time())}"
        events = many(args.events, prefix=f"sensor.{tag}")
        db = rt.workdir / "data" / "events.db"
        cpu_before, started = stack_cpu(root), time.perf_counter()
        sampler = Sampler(root)
        asyncio.run(publish_at(rt.nats_url, events, args.batch, args.rate, tag))
        while stored(db, f"sensor.{tag}") < args.events:
            if time.perf_counter() - started > 1800:
                raise TimeoutError("events not stored within 30 minutes")
            time.sleep(0.2)
        elapsed, cpu = time.perf_counter() - started, stack_cpu(root) - cpu_before
        loaded = sampler.stop()
        after_load = snapshot(root)
        print(f"## Under load ({args.events} events at {args.rate:g}/s in messages of {args.batch}, {load()})\n")
        table([("whole stack RSS, mean / max", f"{statistics.mean(loaded):.0f} / {max(loaded):.0f} MB"),
               ("CPU-seconds per 10,000 events (every process of the stack)", f"{cpu * 10_000 / args.events:.1f}"),
               ("all stored after", f"{elapsed:.1f} s")], ("figure", "value"))

        cold: dict[str, list[float]] = {}
        rss: dict[str, tuple[float, float]] = {}
        for name, path in HTTP_CALLS.items():
            for _ in range(args.cold):  # --cold 0: no cold start (a stack.yml without scale-to-zero labels)
                wait_scaled_to_zero(rt, name)
                t0 = time.perf_counter()
                reply = call("GET", f"{rt.gateway}/function/{name}{path}", timeout=60)
                cold.setdefault(name, []).append(time.perf_counter() - t0)
                answered = reply.status == 200 or (name == "health" and reply.status == 503)  # 503: judged unhealthy
                assert answered and b"function_unavailable" not in reply.body, (name, reply.status, reply.body[:300])
            if not args.cold:
                call("GET", f"{rt.gateway}/function/{name}{path}", timeout=60)
            started_rss = rss_mb(rt.function_pid(name))
            for _ in range(args.requests):
                call("GET", f"{rt.gateway}/function/{name}{path}", timeout=60)
            rss[name] = (started_rss, rss_mb(rt.function_pid(name)))
        registry = [registry_cold_start(rt, f"{tag}-registry-{n}") for n in range(args.cold)]
        registry_rss = rss_mb(rt.function_pid("metadata-sync")) if registry else None
        print(f"## Cold start of a function at zero replicas (call -> first answer, {load()})\n")
        rows = [(n, f"GET {HTTP_CALLS[n]}", " / ".join(f"{s:.2f}" for s in sorted(v)) + " s") for n, v in cold.items()]
        if registry:
            rows.append(("metadata-sync", "a registry snapshot published -> its call answered",
                         " / ".join(f"{s:.2f}" for s in sorted(registry)) + " s"))
        table(rows, ("function", "call", f"latency, {args.cold} starts (sorted)"))

        print(f"## RSS per process (MB; {load()})\n")
        rows = [(n, f"{after_start[n]:.0f}", f"{after_load.get(n, 0):.0f}",
                 f"the load ({args.events // args.batch} messages per stage)") for n in after_start if n not in rss]
        rows += [(n, f"{a:.0f}", f"{b:.0f}", f"{args.requests} × GET {HTTP_CALLS[n]}") for n, (a, b) in rss.items()]
        if registry_rss is not None:
            rows.append(("metadata-sync", "", f"{registry_rss:.0f}", "one registry snapshot, from zero"))
        table(rows, ("process", "after start", "after the calls", "calls"))
    if not args.no_queue:
        print("\n## queue bytes per event (bench/footprint_queue.py)", flush=True)
        subprocess.run([sys.executable, str(Path(__file__).with_name("footprint_queue.py"))], check=True)
    print(f"done; {load()}")


if __name__ == "__main__":
    main()
