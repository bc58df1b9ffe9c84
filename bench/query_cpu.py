"""The query endpoints' own cost, in process: wall and CPU milliseconds of the functions each route calls
(ingestor.queries), their answer encoded as the gateway sends it, over a store at 1, 7, 30 and 365 days.

What `scale_benchmark.py measure` times through the gateway, without the gateway, the function runtime and
HTTP: on a shared machine a CPU time moves less than a wall time, and two versions of the code can be taken in
turns on the same store within a minute. Only reads: the store is opened (which may run ANALYZE) and never
written. Each cell's warm-up is timed too, as its first call: a SQL store's decoded packed stays
(coldstays.DayCache) are let go before it, so it is a process's first such request and the later calls its
next ones. With --now the ranges end at that instant, and --digest prints a hash of each answer: two versions
of the code that print the same digests gave the same answers (the `resolution` they name included).
With --profile LABEL@RANGE the cProfile of that cell's calls is printed instead (top 40 by own time); with
--trace LABEL@RANGE (InfluxDB) every InfluxQL statement one call sends, with its wall ms and the rows it returned.
Prints figures; asserts nothing about time.

    python bench/query_cpu.py --url sqlite:////data/year.db [--runs 10] [--only "area heatmap,stats summary"]
        [--now 2026-12-01T18:00:00Z] [--digest] [--profile "area heatmap@365 d"]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common")]

from bench.store_benchmark import cpu_check, machine, percentile  # noqa: E402
from ingestor import jsoncodec  # noqa: E402
from ingestor.queries import analytics, events, history, params, stats  # noqa: E402
from ingestor.queries.catalog import Names  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402
from ingestor.timeutil import parse_timestamp  # noqa: E402

RANGES = (("1 d", 1), ("7 d", 7), ("30 d", 30), ("365 d", 365))
NUMERIC = "sensor.main_power_total"  # scale_benchmark.py's entities
LIGHT = "light.kitchen_lamp"
NAMES = Names({}, {}, {})
Call = Callable[[Any, params.Range, dt.datetime], Any]


def _history(entity_id: str) -> Call:
    return lambda store, r, now: history.history(store, None, entity_id, r, 2000, params.bucket_seconds(None, r),
                                                 now, NAMES)


def _trend(**fields: str) -> Call:
    return lambda store, r, now: stats.trend(store, EventFilter(start=r.start, end=r.end, **fields), r,
                                             params.bucket_seconds(None, r))


def _events(**fields: str) -> Call:
    return lambda store, r, now: events.search(store, EventFilter(start=r.start, end=r.end, **fields), 100, None,
                                               NAMES)


ENDPOINTS: dict[str, Call] = {
    "events (page of 100)": _events(),
    "events, one entity": _events(entity_id=LIGHT),
    "events, area + domain": _events(area_id="kitchen", domain="light"),
    "events, text search": _events(text="kitchen"),
    "history, numeric entity": _history(NUMERIC),
    "history, light": _history(LIGHT),
    "stats summary": lambda store, r, now: stats.summary(store, EventFilter(start=r.start, end=r.end), r, 10, NAMES),
    "stats trend, all events": _trend(),
    "stats trend, one entity": _trend(entity_id=NUMERIC),
    "stats trend, domain": _trend(domain="light"),
    "area heatmap": lambda store, r, now: analytics.areas(store, EventFilter(start=r.start, end=r.end), r,
                                                          analytics.heat_bucket(None, r), {}),
    "durations + anomalies": lambda store, r, now: analytics.durations(store, EventFilter(start=r.start, end=r.end),
                                                                       r, 50, 50, {}),
    "reliability": lambda store, r, now: analytics.reliability(store, EventFilter(start=r.start, end=r.end), r, now,
                                                               {}, {}, 100),
}


def answer(store: Any, label: str, days: int, now: dt.datetime | None) -> bytes:
    """The cell's answer as the gateway sends it (JSON), ranges ending at `now` (the clock's, if None)."""
    at = now or dt.datetime.now(dt.UTC)
    r = params.Range(at - dt.timedelta(days=days), at)
    return jsoncodec.dumps(ENDPOINTS[label](store, r, at))


def timed(store: Any, label: str, days: int, runs: int,
          now: dt.datetime | None) -> tuple[float, float, float, float, str]:
    """p50 and p95 wall ms, p50 CPU ms over `runs` calls after one warm-up; the warm-up's wall ms, on a store
    keeping no decoded day yet (a process's first such request); the digest of the last answer."""
    emptied(store)
    began = time.perf_counter()
    answer(store, label, days, now)
    first = (time.perf_counter() - began) * 1000
    walls, cpus, body = [], [], b""
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        body = answer(store, label, days, now)
        walls.append((time.perf_counter() - began) * 1000)
        cpus.append((time.process_time() - began_cpu) * 1000)
    return (statistics.median(walls), percentile(walls, 95), statistics.median(cpus), first,
            hashlib.sha256(body).hexdigest()[:12])


def emptied(store: Any) -> None:
    """Let a SQL store forget the packed stays it decoded (coldstays.DayCache): each cell's first call is then
    a new process's, whatever cells came before."""
    cache = getattr(store, "day_cache", None)
    if cache is not None:
        cache.clear()


def profile(store: Any, cell: str, runs: int, now: dt.datetime | None) -> None:
    label, _, span = cell.partition("@")
    days = dict(RANGES)[span]
    answer(store, label, days, now)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        answer(store, label, days, now)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def trace(store: Any, cell: str, now: dt.datetime | None) -> None:
    """Each statement the store sends for one answer (after a warm-up): ms, rows returned, the InfluxQL."""
    label, _, span = cell.partition("@")
    days = dict(RANGES)[span]
    answer(store, label, days, now)
    transport = getattr(store, "transport", None)
    if transport is None:
        raise SystemExit("--trace is for the InfluxDB store (its transport's queries)")
    sent: list[tuple[float, int, str]] = []
    query = transport.query

    def traced(q: str) -> list[dict[str, Any]]:
        began = time.perf_counter()
        series = query(q)
        sent.append(((time.perf_counter() - began) * 1000, sum(len(s.get("values") or []) for s in series), q))
        return series

    transport.query = traced
    began = time.perf_counter()
    answer(store, label, days, now)
    spent = (time.perf_counter() - began) * 1000
    transport.query = query
    for ms, rows, q in sent:
        print(f"{ms:8.1f} ms {rows:7,} rows  {q}")
    print(f"\n{len(sent)} statements, {sum(r for _, r, _ in sent):,} rows, {sum(m for m, _, _ in sent):,.0f} ms "
          f"in InfluxDB of {spent:,.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the event store (sqlite:////path, postgresql://)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", help="comma-separated endpoint labels (prefixes)")
    parser.add_argument("--ranges", default=",".join(label for label, _ in RANGES), help="e.g. '30 d,365 d'")
    parser.add_argument("--now", help="the instant every range ends at (ISO 8601), for --digest")
    parser.add_argument("--digest", action="store_true", help="print a hash of each cell's answer")
    parser.add_argument("--profile", help="LABEL@RANGE, e.g. 'area heatmap@365 d': its cProfile instead")
    parser.add_argument("--trace", help="LABEL@RANGE: the InfluxQL one call sends, timed, instead")
    args = parser.parse_args()
    now = parse_timestamp(args.now) if args.now else None
    store = open_event_store(args.url)
    store.count(EventFilter(start=dt.datetime.now(dt.UTC)))  # opening (ANALYZE) is not part of the figures
    if args.profile:
        profile(store, args.profile, args.runs, now)
        return
    if args.trace:
        trace(store, args.trace, now)
        return
    ranges = [(label, days) for label, days in RANGES if label in args.ranges.split(",")]
    print(f"# query CPU, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC, {machine()}, load {os.getloadavg()}, "
          f"{cpu_check()}")
    print(f"\nms wall p50 / p95 · CPU p50 ({args.runs} calls after a warm-up) · the warm-up's wall (first call: "
          "no decoded day kept)\n")
    print("| endpoint | " + " | ".join(label for label, _ in ranges) + " |")
    print("|---|" + "---:|" * len(ranges))
    for label in ENDPOINTS:
        if args.only and not any(label.startswith(o) for o in args.only.split(",")):
            continue
        cells = []
        for _, days in ranges:
            p50, p95, cpu, first, digest = timed(store, label, days, args.runs, now)
            cells.append(f"{p50:,.0f} / {p95:,.0f} · {cpu:,.0f} · first {first:,.0f}"
                         + (f" ({digest})" if args.digest else ""))
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nload {os.getloadavg()} at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC, {cpu_check()}")
    store.close()


if __name__ == "__main__":
    main()
