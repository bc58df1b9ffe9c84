"""Write throughput on InfluxDB 1.x: the native layout against layout=homeassistant (HA's own points as well).

The store benchmark's 30-day home (bench/store_benchmark.py: 293 entities, ~93% state changes, attributes
friendly_name, device_class, unit and state_class) is written through `store.write` at batch 100 and 1,000,
each layout into a fresh database on the same InfluxDB 1.6, the two layouts taking turns for `--rounds`
rounds so a busy machine slows both alike; only the wall time of `store.write` counts. Prints the median and
the range of the rounds; asserts nothing about time.

    python bench/influx_layout_benchmark.py [--events 30000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local"), str(REPO / "bench")]

from store_benchmark import DAY_US, Home, machine, progress, write_rate  # noqa: E402

from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402
from tests.support.servers import InfluxDB1Server  # noqa: E402

LAYOUTS = ("native", "homeassistant")
BATCHES = (100, 1_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="events written per layout, batch and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    end_us = int(dt.datetime.now(dt.UTC).replace(second=0, microsecond=0).timestamp()) * 1_000_000
    home = Home()
    records = home.generate(args.events, end_us - 30 * DAY_US, end_us, seed=7, namespace="layout").records
    state_changes = sum(r["event_type"] == "state_changed" for r in records)
    rates: dict[tuple[str, int], list[float]] = {(layout, batch): [] for layout in LAYOUTS for batch in BATCHES}
    server = InfluxDB1Server().start()
    began = time.perf_counter()
    try:
        for n in range(args.rounds):
            for batch in BATCHES:
                for layout in LAYOUTS if n % 2 == 0 else reversed(LAYOUTS):
                    store = open_event_store(f"{server.url(f'bench_{layout}_{batch}_{n}')}?layout={layout}")
                    store.count(EventFilter())  # creates the database before any timing
                    try:
                        rates[(layout, batch)].append(write_rate(store, records, batch))
                    finally:
                        store.close()
                    progress(f"round {n + 1}, batch {batch}, {layout}: {rates[(layout, batch)][-1]:,.0f} events/s")
    finally:
        server.cleanup()
    print(f"# InfluxDB 1.x write throughput by layout, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
    print()
    print(f"{len(records):,} events per run ({state_changes:,} state changes, each also one HA point with "
          f"layout=homeassistant); {args.rounds} rounds, layouts alternating; events/s, median (min–max).")
    print()
    print("| layout | " + " | ".join(f"batch {b:,}" for b in BATCHES) + " |")
    print("|---|" + "---:|" * len(BATCHES))
    for layout in LAYOUTS:
        cells = [f"{statistics.median(v):,.0f} ({min(v):,.0f}–{max(v):,.0f})"
                 for v in (rates[(layout, b)] for b in BATCHES)]
        print(f"| {layout} | " + " | ".join(cells) + " |")
    print()
    ratio = [statistics.median(rates[("homeassistant", b)]) / statistics.median(rates[("native", b)])
             for b in BATCHES]
    print("homeassistant / native: " + ", ".join(f"batch {b:,}: {r:.2f}" for b, r in zip(BATCHES, ratio,
                                                                                         strict=True)))
    print(f"Total wall time: {time.perf_counter() - began:.0f} s.")


if __name__ == "__main__":
    main()
