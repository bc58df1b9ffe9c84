"""The dashboard's time to first chart, per view, over a store of 1,000,000 events, in headless Chromium.

Starts the local runtime with the dashboard's test stack (tests/dashboard/stack.dashboard.yml: the test home's
events, registry, webhook, sports and weather), then writes `--events` more into the same event store through the
store's own `write` (bench/query_latency.py's fill: the home of bench/store_benchmark.py over 30 days ending now;
its registry goes to a metadata DB of its own, so the bench entities show by id). Each view is opened `--runs`
times in each range: cold (a fresh browser context: nothing cached) and warm (a reload: ETag revalidation).
A view with charts is timed to its first chart (window.__dashboard.firstChartAt: performance.now() at ECharts'
first 'finished' event, counted from navigation start); a view without one to its first row of data
(performance.now() when the row is there). Prints figures; asserts nothing.

    .venv/bin/python bench/dashboard_first_chart.py [--runs 5] [--events 1000000] [--ranges=-24h,-30d]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.query_latency import fill  # noqa: E402
from bench.store_benchmark import machine  # noqa: E402
from tests.dashboard import home as test_home  # noqa: E402
from tests.dashboard import stack  # noqa: E402
from tests.dashboard.browser import KEY_STORAGE, chromium  # noqa: E402

CHART = ".chart[data-rendered='1']"


def views(entity: str, switch: str, chain: str) -> dict[str, tuple[str, str]]:
    """Each view's route and what marks it drawn: its first chart, or its first row where it has no chart."""
    return {"overview": ("overview", CHART), "events": ("events", "tbody tr"),
            "entity (numeric)": (f"entity/{entity}", CHART), "entity (on/off)": (f"entity/{switch}", CHART),
            "analytics": ("analytics", CHART), "trace": (f"trace/{chain}", CHART),
            "devices": ("devices", "tbody tr"), "sports": ("sports", CHART), "webhooks": ("webhooks", "tbody tr"),
            "archive": ("archive", "#archived-days"), "pipeline": ("pipeline", CHART),
            "config": ("config", "#config-endpoints tr")}


def first_ms(page: Any, ready: str) -> float:
    page.wait_for_selector(ready, state="attached", timeout=120000)
    if ready == CHART:
        return page.evaluate("window.__dashboard.firstChartAt")
    return page.evaluate("performance.now()")


def measure(browser: Any, url: str, ready: str, range_value: str, runs: int,
            api_key: str) -> tuple[list[float], list[float]]:
    cold, warm = [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.add_init_script(f"localStorage.setItem('ha-ingestor.range', '{range_value}')")
        context.add_init_script(f"sessionStorage.setItem('{KEY_STORAGE}', '{api_key}')")  # the webhooks view's key
        page = context.new_page()
        page.goto(url)
        cold.append(first_ms(page, ready))
        page.reload()
        warm.append(first_ms(page, ready))
        context.close()
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=1_000_000, help="events written besides the test home")
    parser.add_argument("--ranges", default="-24h,-30d", help="the dashboard's ranges to open each view in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        house = stack.start(Path(tmp))
        try:
            store_url = house.get("query/config")["event_store"]["url"]
            end_us = int(dt.datetime.now(dt.UTC).timestamp()) * 1_000_000
            bench_home, chains = fill(store_url, f"sqlite:///{tmp}/bench-metadata.db", args.events, end_us)
            entity = next(e.entity_id for e in bench_home.entities if e.kind.unit == "W")
            switch = next(e.entity_id for e in bench_home.entities if e.kind.domain == "binary_sensor")
            total = (house.get("query/stats/summary?start=-30d") or {}).get("total")
            print(f"stack ready and filled in {time.perf_counter() - started:.0f} s; events stored: {total:,}; "
                  f"in the last 24 h: {(house.get('query/stats/summary?start=-24h') or {}).get('total'):,}")
            print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}, load average "
                  f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; Chromium headless 1366x900; {args.runs} runs; "
                  f"ms from navigation start, median (min-max)")
            fmt = lambda v: f"{statistics.median(v):,.0f} ({min(v):,.0f}-{max(v):,.0f})"  # noqa: E731
            print("| view | range | cold | warm |\n|---|---|---:|---:|")
            with chromium() as browser:
                for range_value in args.ranges.split(","):
                    for name, (route, ready) in views(entity, switch, chains[-1] if chains else
                                                      test_home.CHAIN_CHILD).items():
                        cold, warm = measure(browser, f"{house.dashboard}#/{route}", ready, range_value, args.runs,
                                             house.webhooks_key)
                        print(f"| {name} | {range_value} | {fmt(cold)} | {fmt(warm)} |", flush=True)
            print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        finally:
            stack.stop(house)


if __name__ == "__main__":
    main()
