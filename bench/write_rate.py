"""`write` and `load` into a full SQL store (issue 15: ≥ 10,000 events/s sustained), without the query phase.

For each batch size: fresh events of the busy home (bench/busy_home.py), after the newest stored one and at the
home's own rate, through `write`, the pipeline's path (hot tier, rollups, meters' rises, and the compaction step
`write` runs after each batch), for --seconds, as `scale_benchmark.py measure` times it. Then, with --load-day,
`load` of that whole day (274,000 events), as `scale_benchmark.py build` loads each day of the year (straight
into blocks). Prints events per second of time and per CPU second, and the load average; asserts nothing.
Every run adds events to the store: measure two versions of the code on one copy (or two copies) by taking
turns, and load a different day in each run.

    python bench/write_rate.py --url sqlite:////tmp/copy/month.db [--batches 100,1000,5000] [--seconds 20]
        [--load-day 2026-10-31]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.busy_home import BusyHome  # noqa: E402
from bench.scale_benchmark import PER_DAY, _day, log, write_rate  # noqa: E402
from bench.store_benchmark import DAY_US, machine  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402


def load_rate(url: str, day: int, per_day: int) -> tuple[int, float, float]:
    """One day of the busy home through `load`, as the year's build loads it (made first, not timed): events,
    seconds, CPU seconds."""
    _, records = _day((day, per_day, day))
    store = open_event_store(url)
    began, began_cpu = time.perf_counter(), time.process_time()
    loaded = store.load(records)
    spent, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    store.close()
    return loaded, spent, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the event store (sqlite:////path or postgresql://)")
    parser.add_argument("--batches", default="100,1000,5000", help="comma-separated batch sizes of `write`")
    parser.add_argument("--seconds", type=float, default=20, help="time in `write` per batch size")
    parser.add_argument("--load-day", help="a day (YYYY-MM-DD) the store does not hold yet, to `load` whole")
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    args = parser.parse_args()
    BusyHome()  # the home's entity kinds, before the first store opens
    print(f"# write rate, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}, load {os.getloadavg()}")
    store = open_event_store(args.url)
    store.count(EventFilter(start=dt.datetime.now(dt.UTC)))  # opening (a migration) is not part of the figures
    store.close()
    for batch in (int(b) for b in args.batches.split(",") if b):
        rate, cpu_rate = write_rate(args.url, args.seconds, batch)
        print(f"- write, batch {batch:,}: {rate:,.0f} events/s, {cpu_rate:,.0f} per CPU second "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
    if args.load_day:
        day = int(dt.datetime.fromisoformat(args.load_day).replace(tzinfo=dt.UTC).timestamp()) * 1_000_000 // DAY_US
        loaded, spent, cpu = load_rate(args.url, day, args.per_day)
        print(f"- load, {args.load_day}: {loaded:,} events in {spent:.1f} s = {loaded / spent:,.0f} events/s, "
              f"{loaded / cpu:,.0f} per CPU second (load {os.getloadavg()[0]:.1f})", flush=True)
    log("done")


if __name__ == "__main__":
    main()
