"""Alert evaluation over a large event store: how long the rules that read the store take (ingestor.alerts.evaluate
.store_findings: event counts per entity over the 24 h baseline, the newest event of every entity, unavailable
and unknown counts over the last hour, each battery sensor's latest reading, each power sensor's hourly means
over 14 days), with the default thresholds.

The store is the busy home of bench/scale_benchmark.py (~400 entities, ~274,000 events a day), built day by day
from today back through the store's own code when it holds fewer days than --days (resumable). Then `--runs`
evaluations in this process, after one warm-up; prints p50/p95/max (and the energy rule's read alone), the findings
and the load average. Prints figures; asserts nothing about time.

    python bench/alert_evaluation.py --url sqlite:////tmp/alerts-bench.db --days 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.scale_benchmark import PER_DAY, build  # noqa: E402
from bench.store_benchmark import percentile  # noqa: E402
from ingestor.alerts.evaluate import hourly_ranges, store_findings  # noqa: E402
from ingestor.alerts.settings import Settings  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402


def power_sensors(store: Any, now: dt.datetime) -> dict[str, str]:
    """The sensors whose latest event is in W or kW."""
    found = {}
    for entity, _ in store.last_seen(EventFilter(end=now), "entity_id", 10_000):
        if entity and entity.startswith("sensor."):
            (latest,) = store.query(EventFilter(entity_id=entity, end=now), limit=1).items or [{}]
            unit = (latest.get("attributes") or {}).get("unit_of_measurement")
            if unit in ("W", "kW"):
                found[entity] = unit
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the event store (sqlite:////path, postgresql://, influxdb://)")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    started = time.perf_counter()
    build(args.url, args.days, args.per_day)
    print(f"build: {time.perf_counter() - started:.0f} s", flush=True)
    store = open_event_store(args.url)
    now = dt.datetime.now(dt.UTC)
    total = store.count(EventFilter(end=now))
    settings = Settings()
    power = power_sensors(store, now)  # what the metadata DB's registry would name (the bench has none)
    store_findings(store, now, settings, power)  # warm-up: caches, the OS's page cache
    print(f"store {store.backend}, {total:,} events stored before now ({args.days} days built), "
          f"{args.runs} evaluations after one warm-up; {len(power)} power sensors for the energy rule")
    found: list[Any] = []
    for label, sensors in (("every rule", power), ("without the energy rule", {})):
        times = []
        load_before = os.getloadavg()
        for _ in range(args.runs):
            now = dt.datetime.now(dt.UTC)
            began = time.perf_counter()
            result = store_findings(store, now, settings, sensors)
            times.append((time.perf_counter() - began) * 1000)
            found = result if sensors is power else found
        load_after = os.getloadavg()
        times.sort()
        p95 = percentile(times, 95)
        print(f"{label}: ms p50 {statistics.median(times):.0f}, p95 {p95:.0f}, max {times[-1]:.0f} "
              f"(load average {load_before[0]:.2f} before, {load_after[0]:.2f} after)")
    times = []
    for _ in range(args.runs):
        began = time.perf_counter()
        hourly_ranges(store, power, dt.datetime.now(dt.UTC), settings)
        times.append((time.perf_counter() - began) * 1000)
    print(f"the energy rule's read alone ({len(power)} sensors' hours): ms p50 {statistics.median(times):.0f}, "
          f"max {max(times):.0f} (load average {os.getloadavg()[0]:.2f})")
    print(f"findings: {len(found)} ({', '.join(sorted({f.rule for f in found})) or 'none'})")
    store.close()


if __name__ == "__main__":
    main()
