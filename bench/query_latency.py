"""Query API latency through the gateway: p50/p95 of each query endpoint over 1,000,000 stored events.

The home of bench/store_benchmark.py (~300 entities in 12 areas on ~90 devices, user actions and automation
chains; 30 days ending now) is generated in slices of 100,000 events and written through the store's own
`write` in batches of 5,000; its areas, devices and entities go into a metadata DB. Then the local runtime
(`python -m localfaas`: gateway + the query function as its own process, tests/queries/stack.query.yml) serves
the query function over that store, and each endpoint is called through the gateway `--runs` times after
2 warm-ups, one request at a time. Prints figures; asserts nothing about time.

    python bench/query_latency.py [--events 1000000] [--backends sqlite,influxdb1] [--runs 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import traceback
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.store_benchmark import AREAS, DAY_US, DAYS, Home, machine, percentile, progress  # noqa: E402
from ingestor.metadata.registry import MetadataDB  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402
from tests.support.http import call  # noqa: E402
from tests.support.runtime import LocalRuntime  # noqa: E402
from tests.support.servers import InfluxDB1Server  # noqa: E402

STACK = REPO / "tests" / "queries" / "stack.query.yml"
SLICE = 100_000
BATCH = 5_000
WARMUPS = 2


def registry(home: Home) -> list[dict[str, Any]]:
    """The home's areas, devices and entities as the bridge publishes HA's registries."""
    base = {"snapshot_id": "bench", "parts": 3, "fetched_at": "2026-01-01T00:00:00Z", "ha_version": "2024.3.3"}
    devices: dict[str, dict[str, Any]] = {}
    for e in home.entities:
        if e.device_id and e.device_id not in devices:
            devices[e.device_id] = {"id": e.device_id, "name": f"Device {e.name}", "manufacturer": "Acme",
                                    "model": e.kind.domain, "area_id": e.area_id, "sw_version": "1.0"}
    return [
        {**base, "type": "areas", "part": 1, "items": [{"area_id": a, "name": a.replace("_", " ").title()}
                                                       for a in AREAS]},
        {**base, "type": "devices", "part": 2, "items": list(devices.values())},
        {**base, "type": "entities", "part": 3, "items": [
            {"entity_id": e.entity_id, "platform": e.kind.domain, "device_id": e.device_id, "name": e.name}
            for e in home.entities]},
    ]


def fill(store_url: str, metadata_url: str, events: int, end_us: int) -> tuple[Home, list[str]]:
    """Write `events` events over DAYS days ending at end_us; returns the home and some chain trigger ids."""
    home = Home()
    start_us = end_us - DAYS * DAY_US
    store = open_event_store(store_url)
    store.count(EventFilter())  # schema or database first
    chains: list[str] = []
    slices = max(1, -(-events // SLICE))
    span = (end_us - start_us) // slices
    began, written = time.perf_counter(), 0
    for i in range(slices):
        count = min(SLICE, events - written)
        data = home.generate(count, start_us + i * span, start_us + (i + 1) * span, seed=i + 1, namespace=f"q{i}")
        for j in range(0, len(data.records), BATCH):
            store.write(data.records[j:j + BATCH])
        written += len(data.records)
        chains += [trigger for trigger, _, _ in data.chains[-3:]]
        progress(f"{written:,} events written ({written / (time.perf_counter() - began):,.0f}/s)")
    store.close()
    db = MetadataDB(metadata_url)
    db.apply(registry(home))
    db.engine.dispose()
    return home, chains


def endpoints(home: Home, chains: list[str], device: str) -> list[tuple[str, str, dict[str, str]]]:
    busy_numeric = "sensor.living_room_power_1"
    return [
        ("events, last 24 h (default), 100", "/events", {}),
        ("events, one entity, 7 d", "/events", {"entity_id": busy_numeric, "start": "-7d"}),
        ("events, area + domain, 7 d", "/events", {"area_id": "kitchen", "domain": "light", "start": "-7d"}),
        ("events, text search, 24 h", "/events", {"q": "kitchen"}),
        ("events, next page (cursor)", "/events", {"cursor": "<next>"}),
        ("history, numeric, 24 h", f"/entities/{busy_numeric}/history", {}),
        ("history, numeric, 30 d", f"/entities/{busy_numeric}/history", {"start": "-30d"}),
        ("stats summary, 24 h", "/stats/summary", {}),
        ("stats summary, 30 d", "/stats/summary", {"start": "-30d"}),
        ("stats trend, 24 h", "/stats/trend", {}),
        ("stats trend, 30 d", "/stats/trend", {"start": "-30d"}),
        ("trace (automation chain)", f"/analytics/trace/{chains[-1]}", {}),
        ("area heatmap, 7 d (default)", "/analytics/areas", {}),
        ("durations + anomalies, 7 d", "/analytics/durations", {}),
        ("reliability, 7 d", "/analytics/reliability", {}),
        ("devices", "/devices", {}),
        ("device detail", f"/devices/{device}", {}),
        ("entities, domain=light", "/entities", {"domain": "light"}),
        ("areas", "/areas", {}),
    ]


def measure(base: str, path: str, query: dict[str, str], runs: int) -> tuple[float, float, int]:
    if query.get("cursor") == "<next>":
        first = call("GET", f"{base}/events", timeout=120).json()
        query = {"cursor": first["next_cursor"]}
    url = f"{base}{urllib.parse.quote(path, safe='/')}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    times, size = [], 0
    for n in range(WARMUPS + runs):
        started = time.perf_counter()
        reply = call("GET", url, timeout=300)
        spent = (time.perf_counter() - started) * 1000
        if reply.status != 200:
            raise RuntimeError(f"{path}: {reply.status} {reply.body[:300]!r}")
        if n >= WARMUPS:
            times.append(spent)
        size = len(reply.body)
    return statistics.median(times), percentile(times, 95), size


def run(backend: str, events: int, runs: int, tmp: Path, influx: InfluxDB1Server | None) -> list[tuple]:
    end_us = int(dt.datetime.now(dt.UTC).replace(second=0, microsecond=0).timestamp()) * 1_000_000
    store_url = f"sqlite:///{tmp}/{backend}-events.db" if backend == "sqlite" else influx.url("bench")  # type: ignore
    metadata_url = f"sqlite:///{tmp}/{backend}-metadata.db"
    progress(f"{backend}: filling with {events:,} events")
    began = time.perf_counter()
    home, chains = fill(store_url, metadata_url, events, end_us)
    progress(f"{backend}: filled in {time.perf_counter() - began:.0f} s")
    device = next(e.device_id for e in home.entities if e.device_id)
    rows = []
    env = {"TEST_EVENT_STORE_URL": store_url, "TEST_METADATA_DB_URL": metadata_url}
    with LocalRuntime(tmp / f"runtime-{backend}", stack=STACK, env=env) as runtime:
        base = f"{runtime.gateway}/function/query"
        for label, path, query in endpoints(home, chains, device):
            try:
                p50, p95, size = measure(base, path, query, runs)
                rows.append((label, p50, p95, size))
            except Exception as exc:  # noqa: BLE001 - one failing endpoint still reports the others
                rows.append((label, None, None, str(exc)[:120]))
            progress(f"{backend}: {label}: {rows[-1][1:]}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite", help="comma list of sqlite, influxdb1")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    started = time.perf_counter()
    results: dict[str, list[tuple]] = {}
    influx = None
    with tempfile.TemporaryDirectory(prefix="ha-ingestor-query-bench-") as folder:
        tmp = Path(folder)
        (tmp / "runtime-sqlite").mkdir()
        (tmp / "runtime-influxdb1").mkdir()
        try:
            if "influxdb1" in names:
                influx = InfluxDB1Server().start()
            for name in names:
                try:
                    results[name] = run(name, args.events, args.runs, tmp, influx)
                except Exception:  # noqa: BLE001
                    traceback.print_exc()
        finally:
            if influx:
                influx.cleanup()
    print(f"# query API latency through the gateway, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
    print()
    print(f"{args.events:,} events (bench/store_benchmark.py's home, {DAYS} days ending now); each endpoint called "
          f"{args.runs} times after {WARMUPS} warm-ups, one request at a time, through the local gateway "
          "(/function/query/...). Milliseconds, wall time at the client.")
    print()
    print("| endpoint | " + " | ".join(f"{n} p50 | {n} p95" for n in results) + " | response bytes |")
    print("|---|" + "---:|---:|" * len(results) + "---:|")
    labels = [row[0] for row in next(iter(results.values()), [])]
    for i, label in enumerate(labels):
        cells = []
        for name in results:
            _, p50, p95, size = results[name][i]
            cells.append("error | –" if p50 is None else f"{p50:,.1f} | {p95:,.1f}")
        sizes = [results[n][i][3] for n in results]
        print(f"| {label} | " + " | ".join(cells) + " | " + " / ".join(f"{s:,}" if isinstance(s, int) else s
                                                                          for s in sizes) + " |")
    print()
    print(f"Total wall time: {time.perf_counter() - started:,.0f} s.")


if __name__ == "__main__":
    main()
