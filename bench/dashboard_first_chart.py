"""The dashboard's time to first chart: navigation start -> first ECharts chart rendered, in headless Chromium.

Starts the local runtime with the dashboard's test stack (tests/dashboard/stack.dashboard.yml), stores the test
home's events plus `--events` more over the last day, then opens /function/dashboard/#/overview in Debian's
Chromium `--runs` times: cold (a fresh browser context: nothing cached) and warm (a reload: ETag revalidation).
The app records performance.now() at ECharts' first 'finished' event in window.__dashboard.firstChartAt;
performance.now() counts from navigation start. Prints figures; asserts nothing.

    .venv/bin/python bench/dashboard_first_chart.py [--runs 10] [--events 5000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from ingestor import subjects  # noqa: E402
from tests.dashboard import stack  # noqa: E402
from tests.dashboard.browser import chromium  # noqa: E402
from tests.support.ha_events import many  # noqa: E402
from tests.support.jetstream import JetStreamClient  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402


def first_chart_ms(page: object, url: str, reload: bool = False) -> dict[str, float]:
    if reload:
        page.reload()  # type: ignore[attr-defined]
    else:
        page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_selector(".chart[data-rendered='1']", state="attached", timeout=60000)  # type: ignore
    return page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return {first_chart: window.__dashboard.firstChartAt, dom_content_loaded: nav.domContentLoadedEventEnd,
                requests: performance.getEntriesByType('resource').length};
    }""")  # type: ignore[attr-defined]


def summary(name: str, values: list[float]) -> str:
    return (f"{name:<34} median {statistics.median(values):7.1f} ms   min {min(values):7.1f}   "
            f"max {max(values):7.1f}   (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--events", type=int, default=5000, help="bulk events stored besides the test home")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        home = stack.start(Path(tmp))
        try:
            if args.events:
                bulk = many(args.events, prefix="sensor.bench", start=dt.datetime.now(dt.UTC) - dt.timedelta(hours=20))
                js = JetStreamClient(home.runtime.nats_url)
                for i in range(0, len(bulk), 500):
                    js.publish_batch(subjects.RAW, f"bench-{i}", bulk[i:i + 500])
                expected = len(home.events) + args.events
                wait_for(lambda: (home.get("query/stats/summary?start=-24h") or {}).get("total", 0) >= expected,
                         120, 0.5)
            total = (home.get("query/stats/summary?start=-24h") or {}).get("total")
            print(f"stack ready in {time.perf_counter() - started:.1f} s; events in the last 24 h: {total}")
            url = home.dashboard + "#/overview"
            cold: list[dict[str, float]] = []
            warm: list[dict[str, float]] = []
            with chromium() as browser:
                for _ in range(args.runs):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    cold.append(first_chart_ms(page, url))
                    warm.append(first_chart_ms(page, url, reload=True))
                    context.close()
            print(f"dashboard time to first chart, {args.runs} runs, Chromium headless "
                  f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})")
            print(summary("cold (fresh context) first chart", [r["first_chart"] for r in cold]))
            print(summary("cold DOMContentLoaded", [r["dom_content_loaded"] for r in cold]))
            print(summary("warm (reload, 304s) first chart", [r["first_chart"] for r in warm]))
            print(f"requests per cold load: {int(statistics.median(r['requests'] for r in cold))}")
        finally:
            stack.stop(home)


if __name__ == "__main__":
    main()
