"""What a hop of the pipeline costs apart from its stage's work: CPU per call, from /proc, of each process.

1. The template: bench/functions/noop (answers without reading its body) served by the python3-ingestor template
   as its own process, called over one kept-alive connection with a batch of 1 and of 100 HA events, and with 4
   batches of 100 coalesced (the topic connector's call under a backlog), signed as the connectors sign
   (REQUIRE_CONNECTOR_SIGNATURE=true): the function process's CPU per call.
2. Through the local runtime: two stages with no work, bench/functions/relay (ha.events.raw -> publishes the
   batch unchanged on ha.events.valid) and noop (ha.events.valid); batches of 100 published on ha.events.raw
   until noop's consumer has acknowledged them all: CPU per batch of each function, the runtime (topic
   connector and gateway) and nats-server. A pipeline batch makes five such calls (validate, normalize,
   weather-enrich, write, webhook-dispatch) and four such publishes.

Prints figures; asserts nothing about time.

    python bench/hop_costs.py --calls 2000 --batches 800
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

import nats  # noqa: E402

from bench.pipeline_throughput import children, cpu_seconds, load, machine, nats_server_pid  # noqa: E402
from ingestor import envelope, signedcalls, subjects  # noqa: E402
from localfaas.natsserver import NatsServer  # noqa: E402
from tests.support.function import TEMPLATE_ENTRY, served  # noqa: E402
from tests.support.ha_events import many  # noqa: E402
from tests.support.runtime import LocalRuntime, pythonpath  # noqa: E402

FUNCTIONS = REPO / "bench" / "functions"
KEY = "hop-costs-connector-key-0123456789abcdef"


def batches(size: int, count: int, tag: str) -> list[bytes]:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    return [envelope.encode(f"{tag}-{i}", many(size, prefix=f"sensor.hop_{i}", start=start)) for i in range(count)]


def template_per_call(work: Path, calls: int) -> None:
    with NatsServer(work / "nats") as server:
        env = {"NATS_URL": server.url, signedcalls.REQUIRED: "true", "CONNECTOR_KEY": KEY, "PYTHONPATH": pythonpath()}
        with served(FUNCTIONS / "noop", "noop", work / "noop.log", env) as url:
            pid = next(p for p in children(os.getpid()) if str(TEMPLATE_ENTRY).encode()
                       in Path(f"/proc/{p}/cmdline").read_bytes())
            where = urlsplit(url)
            conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port)
            for size in (1, 100):
                bodies = batches(size, 20, f"t{size}")
                print(f"| template, noop, batch of {size} ({len(bodies[0]):,} B) | "
                      f"{per_call(conn, pid, calls, bodies, {}):.2f} ms per call |")
            bodies = [envelope.coalesce(batches(100, 4, f"c{i}")) for i in range(20)]  # the connector's, backlogged
            print(f"| template, noop, 4 batches of 100 coalesced ({len(bodies[0]):,} B) | "
                  f"{per_call(conn, pid, calls // 4, bodies, {envelope.COALESCED_HEADER: '4'}):.2f} ms per call |")
            conn.close()


def per_call(conn: http.client.HTTPConnection, pid: int, calls: int, bodies: list[bytes],
             headers: dict[str, str]) -> float:
    """The function process's CPU per signed call of `bodies` in turn, in ms (after 50 calls to warm up)."""
    calls_of = [(body, {"Content-Type": "application/json", "X-Nats-Subject": subjects.RAW, **headers,
                        **signedcalls.sign(KEY, "POST", "", "", body)}) for body in bodies]
    for i in range(50):
        post(conn, *calls_of[i % len(calls_of)])
    before = cpu_seconds(pid)
    for i in range(calls):
        post(conn, *calls_of[i % len(calls_of)])
    return 1000 * (cpu_seconds(pid) - before) / calls


def post(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> None:
    conn.request("POST", "/", body, headers)
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200, reply.status


def stack(path: Path) -> Path:
    functions = {name: {"lang": "python3-ingestor", "handler": str(FUNCTIONS / name), "image": f"bench/{name}:hops",
                        "annotations": {"topic": topic},
                        "environment": {signedcalls.REQUIRED: "true", "NATS_URL": "${NATS_URL}"},
                        "secrets": [signedcalls.SECRET]}
                 for name, topic in (("relay", subjects.RAW), ("noop", subjects.VALID))}
    path.write_text(yaml.safe_dump({
        "version": 1.0, "provider": {"name": "openfaas", "gateway": "http://127.0.0.1:8080"},
        "configuration": {"templates": [{"name": "python3-ingestor"}], "copy": [str(REPO / "functions" / "common")]},
        "functions": functions}))
    return path


async def publish_and_wait(url: str, bodies: list[bytes], tag: str) -> None:
    """Every batch published on ha.events.raw, then until relay's and noop's consumers have none pending."""
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    for chunk in range(0, len(bodies), 64):
        await asyncio.gather(*(js.publish(subjects.RAW, body, headers={"Nats-Msg-Id": f"{tag}-{i}"})
                               for i, body in enumerate(bodies[chunk:chunk + 64], start=chunk)))
    while True:
        infos = [i for i in await js.consumers_info(subjects.STREAM) if subjects.function_of(i.name)]
        if infos and all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
            break
        await asyncio.sleep(0.05)
    await nc.close()


def runtime_per_batch(work: Path, count: int) -> None:
    with LocalRuntime(work, stack=stack(work / "stack.yml")) as rt:
        pids = {"relay": rt.function_pid("relay"), "noop": rt.function_pid("noop"),
                "runtime (gateway, connectors)": rt.proc.pid if rt.proc else 0}
        pids["nats-server"] = nats_server_pid(pids["runtime (gateway, connectors)"]) or 0
        distinct = batches(100, 20, "warm")
        asyncio.run(publish_and_wait(rt.nats_url, distinct, "warm"))
        bodies = [envelope.encode(f"run-{i}", envelope.parse(distinct[i % 20]).events) for i in range(count)]
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        asyncio.run(publish_and_wait(rt.nats_url, bodies, "run"))
        spent = {name: 1000 * (cpu_seconds(pid) - before[name]) / count for name, pid in pids.items()}
    for name, ms in spent.items():
        print(f"| runtime, relay -> noop, batch of 100: {name} | {ms:.2f} ms per batch |")
    print(f"| runtime, relay -> noop, batch of 100: total | {sum(spent.values()):.2f} ms per batch |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls of the template-served function per size")
    parser.add_argument("--batches", type=int, default=800, help="batches of 100 through the runtime")
    args = parser.parse_args()
    print(f"# hop costs, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}, {load()}\n")
    print("| what | CPU |\n|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        template_per_call(Path(tmp), args.calls)
        (Path(tmp) / "runtime").mkdir()
        runtime_per_batch(Path(tmp) / "runtime", args.batches)
    print(f"\n# finished {dt.datetime.now(dt.UTC):%H:%M} UTC, {load()}")


if __name__ == "__main__":
    main()
