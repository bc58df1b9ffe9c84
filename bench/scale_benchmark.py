"""A year of a busy home in the event store (100 million events), then the query API's latency over it.

build: the busy home (bench/busy_home.py, ~400 entities, ~274,000 events a day) day by day from today back
    (newest first, so a build still running already holds the most recent days whole) into the store at
    --url, through the store's own code: `load` on SQL stores (the path of `write` and compaction together,
    straight into blocks for past days), `write` in batches of 5,000 on InfluxDB. A day is generated in a
    second process while the previous one loads. Resumable: days already holding events are skipped. Logs
    each day (events/s, size on disk, load average) to stderr. With --base-days N only the newest N days are
    loaded so; the older days of --days are then copies of the loaded ones (their stored rows shifted by whole
    days: bench/daycopy.py in SQL, bench/influxcopy.py as line protocol on InfluxDB), a year in well under an
    hour instead of ~3 hours, 10 million events on InfluxDB in minutes instead of hours.
check: for a few copied days, the same questions through the store's reads about the copy and its source
    (bench/daycheck.py); prints what differs.
measure: bytes per event on disk (SQLite: the file after a checkpoint; PostgreSQL: its tables and indexes; per
    table with --tables), then through the local runtime's gateway (query function,
    tests/queries/stack.query.yml) p50/p95 of every query endpoint
    at 1, 7, 30 and 365 days, then `write` throughput into the full store (fresh events after the newest
    stored, batches of 1,000 and 5,000, for --write-seconds each) and the time a fresh process takes to open
    the store and answer.
Prints figures; asserts nothing about time. A benchmark, not a test: run it in the background.

    nohup python bench/scale_benchmark.py build --url sqlite:////data/year.db > bench/results/build.log 2>&1 &
    nohup python bench/scale_benchmark.py build --url sqlite:////data/year.db --days 366 --base-days 16 > y.log 2>&1 &
    python bench/scale_benchmark.py check --url sqlite:////data/year.db --base-days 16
    python bench/scale_benchmark.py measure --url sqlite:////data/year.db [--runs 20] [--tables]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench import daycheck, daycopy, influxcopy  # noqa: E402
from bench.busy_home import BusyHome  # noqa: E402
from bench.query_latency import registry  # noqa: E402
from bench.store_benchmark import DAY_US, cpu_check, machine, percentile  # noqa: E402
from ingestor.metadata.registry import MetadataDB  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.influx import open_influx  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402
from ingestor.store.sqlengine import engine_for  # noqa: E402
from ingestor.store.timerange import to_micros  # noqa: E402
from ingestor.timeutil import parse_timestamp  # noqa: E402
from tests.support.http import call  # noqa: E402
from tests.support.runtime import LocalRuntime  # noqa: E402

STACK = REPO / "tests" / "queries" / "stack.query.yml"
PER_DAY = 274_000
RANGES = (("1 d", "-1d"), ("7 d", "-7d"), ("30 d", "-30d"), ("365 d", "-365d"))
WARMUPS = 2


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message} (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)


def today_us() -> int:
    return int(time.time()) // 86_400 * DAY_US


def _day(args: tuple[int, int, int]) -> tuple[int, list[dict[str, Any]]]:
    day, per_day, seed = args
    start = day * DAY_US
    return day, BusyHome().generate(per_day, start, start + DAY_US, seed=seed, namespace=f"day{day}").records


def size_of(url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(urllib.parse.urlsplit(url).path)
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    if url.startswith("postgresql"):
        return sum(size for _, size in sql_tables(url))
    if url.startswith("influxdb"):  # its shards' TSM files and WAL, as InfluxDB counts them
        store = open_event_store(url)
        try:
            return sum(int(dict(zip(s["columns"], s["values"][0], strict=True))["diskBytes"])
                       for s in store.transport.query("SHOW STATS") if s.get("name") == "shard"
                       and (s.get("tags") or {}).get("database") == store.transport.database)
        finally:
            store.close()
    return 0


def built_days(store: Any, first: int, last: int) -> set[int]:
    found = store.stats(EventFilter(start=_time(first * DAY_US), end=_time((last + 1) * DAY_US)), 86_400)
    return {int(a.start.timestamp()) // 86_400 for a in found if a.count}


def _time(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)


def _date(day: int) -> dt.date:
    return _time(day * DAY_US).date()


def build(url: str, days: int, per_day: int) -> None:
    store = open_event_store(url)
    last = today_us() // DAY_US
    first = last - days + 1
    done = built_days(store, first, last)
    todo = [d for d in range(last, first - 1, -1) if d not in done]  # newest first: recent days exist soonest
    log(f"building {len(todo)} of {days} days ({len(done)} already there), {per_day:,} events a day, into {url}")
    began, loaded = time.perf_counter(), 0
    sql = hasattr(store, "load")
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pending = pool.apply_async(_day, ((todo[0], per_day, todo[0]),)) if todo else None
        for n in range(len(todo)):
            day, records = pending.get()  # type: ignore[union-attr]
            if n + 1 < len(todo):  # the next day is made while this one loads (one ahead, no more)
                pending = pool.apply_async(_day, ((todo[n + 1], per_day, todo[n + 1]),))
            started = time.perf_counter()
            if sql:
                store.load(records)
                store.compact(60)  # the hot days went hot: nothing to compact but older days' leftovers
            else:
                for i in range(0, len(records), 5000):
                    store.write(records[i:i + 5000])
            spent = time.perf_counter() - started
            loaded += len(records)
            elapsed = time.perf_counter() - began
            log(f"day {_time(day * DAY_US).date()}: {len(records):,} events in {spent:.1f} s "
                f"({len(records) / spent:,.0f}/s); {loaded:,} in {elapsed / 60:.1f} min "
                f"({loaded / elapsed:,.0f}/s overall); {size_of(url) / max(loaded, 1):.1f} B/event so far")
    log(f"built {loaded:,} events in {(time.perf_counter() - began) / 60:.1f} min")
    store.close()


def build_copied(url: str, days: int, base_days: int, per_day: int) -> None:
    """The newest `base_days` days loaded (build), the rest of `days` copied from them (bench/daycopy.py on the
    SQL stores, bench/influxcopy.py on InfluxDB)."""
    began = time.perf_counter()
    build(url, base_days, per_day)
    loaded = time.perf_counter() - began
    last = today_us() // DAY_US
    sources = daycopy.sources_for(loaded_days(url, base_days))
    if url.startswith("influxdb"):
        store = open_influx(url, timeout=120)  # a write of 50,000 lines into a busy InfluxDB can take long
        have = built_days(store, last - days + 1, last)
        todo = [d for d in range(last - base_days, last - days, -1) if d not in have]
        copied = influxcopy.fill(store, todo, sources, daycopy.source_of, log)
        store.close()
    else:
        copied = daycopy.fill(url, last - days + 1, last - base_days, sources, log)
    log(f"{days} days built: {base_days} days loaded in {loaded / 60:.1f} min, {copied:,} events (InfluxDB: "
        f"points, the rollups' too) copied in "
        f"{(time.perf_counter() - began - loaded) / 60:.1f} min")


def loaded_days(url: str, base_days: int) -> list[int]:
    """The stored (cold) days among the newest `base_days`: those the build loaded, which copies come from."""
    last = today_us() // DAY_US
    return [d for d in stored_days(url) if d > last - base_days]


def stored_days(url: str) -> list[int]:
    """Days holding events, oldest first: on the SQL stores those in blocks (cold), on InfluxDB any (a year's)."""
    if not url.startswith("influxdb"):
        return daycopy.days_of(url)
    store = open_event_store(url)
    last = today_us() // DAY_US
    try:
        return sorted(built_days(store, last - 400, last))
    finally:
        store.close()


def check(url: str, base_days: int) -> None:
    """Compare a few copied days (the oldest, one in the middle, the newest) with their sources."""
    sources = daycopy.sources_for(loaded_days(url, base_days))
    last = today_us() // DAY_US
    copies = [d for d in stored_days(url) if d <= last - base_days]
    if not copies:
        raise SystemExit("no copied day")
    store = open_influx(url, timeout=300) if url.startswith("influxdb") else open_event_store(url)  # a trace scans
    print(f"# copied days against their sources, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; sources "
          f"{_date(sources[0])}..{_date(sources[-1])} (today {_date(last)})")
    for target in sorted({copies[0], copies[len(copies) // 2], copies[-1]}):
        source = daycopy.source_of(target, sources)
        print(f"\n## {_date(target)}, a copy of {_date(source)}")
        for line in daycheck.compare(store, source, target):
            print(f"- {line}", flush=True)
    store.close()


# --- measuring -----------------------------------------------------------------------------------------


def sql_tables(url: str) -> list[tuple[str, int]]:
    """(table or index, bytes) of the store, largest first; on PostgreSQL a table's TOAST and free-space map
    included (pg_relation_size of every fork), its indexes apart."""
    if url.startswith("sqlite"):
        with sqlite3.connect(urllib.parse.urlsplit(url).path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return list(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return [(name, int(size)) for name, size in conn.exec_driver_sql(
                "SELECT c.relname, pg_table_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY 2 DESC")]
    finally:
        engine.dispose()


def endpoints(home: BusyHome, chain: str | None, device: str) -> list[tuple[str, str, dict[str, str], bool]]:
    """(label, path, query, takes a range)."""
    numeric = "sensor.main_power_total"
    out = [
        ("events (page of 100)", "/events", {}, True),
        ("events, one entity", "/events", {"entity_id": "light.kitchen_lamp"}, True),
        ("events, area + domain", "/events", {"area_id": "kitchen", "domain": "light"}, True),
        ("events, text search", "/events", {"q": "kitchen"}, True),
        ("history, numeric entity", f"/entities/{numeric}/history", {}, True),
        ("history, light", "/entities/light.kitchen_lamp/history", {}, True),
        ("stats summary", "/stats/summary", {}, True),
        ("stats trend, all events", "/stats/trend", {}, True),
        ("stats trend, one entity", "/stats/trend", {"entity_id": numeric}, True),
        ("stats trend, domain", "/stats/trend", {"domain": "light"}, True),
        ("area heatmap", "/analytics/areas", {}, True),
        ("durations + anomalies", "/analytics/durations", {}, True),
        ("reliability", "/analytics/reliability", {}, True),
        ("devices", "/devices", {}, False),
        ("device detail", f"/devices/{device}", {}, False),
        ("entities, domain=light", "/entities", {"domain": "light"}, False),
        ("areas", "/areas", {}, False),
    ]
    if chain:
        out.append(("automation trace", f"/analytics/trace/{chain}", {}, False))
    return out


def timed(url: str, runs: int) -> tuple[float, float, float, str]:
    """p50 and p95 of `runs` calls after the warm-ups, the first call's time (the function's caches empty, for
    the range's days no other cell read before it) and the answer's resolution."""
    times, first, resolution = [], 0.0, ""
    for n in range(WARMUPS + runs):
        started = time.perf_counter()
        reply = call("GET", url, timeout=300)
        spent = (time.perf_counter() - started) * 1000
        if reply.status != 200:
            raise RuntimeError(f"{reply.status} {reply.body[:200]!r}")
        if n >= WARMUPS:
            times.append(spent)
        if n == 0:
            first = spent
            body = reply.json()
            resolution = body.get("resolution", "") if isinstance(body, dict) else ""
    return statistics.median(times), percentile(times, 95), first, resolution


def write_rate(url: str, seconds: float, batch: int) -> tuple[float, float]:
    """Fresh events through `write` (the pipeline's path) for `seconds`: the busy home's, at its own rate, from
    the newest stored event on (today's at least), each batch newer than the last, as the pipeline delivers
    them, deleted again afterwards. Events per second of time, and per CPU second of this process (on a busy
    machine the first waits for the CPU)."""
    store = open_event_store(url)
    home = BusyHome()
    newest = store.query(EventFilter(start=_time(today_us())), limit=1).items
    start = max([today_us()] + [to_micros(parse_timestamp(r["time_fired"])) + 1 for r in newest])
    count = max(20, int(seconds * 15_000) // batch + 1) * batch  # enough for 15,000/s, 20 batches at least
    records = home.generate(count, start, start + count * DAY_US // PER_DAY, seed=int(time.time()),
                            namespace=f"w{time.time_ns()}").records
    done, spent, cpu = 0, 0.0, 0.0
    for i in range(0, len(records), batch):
        began, began_cpu = time.perf_counter(), time.process_time()
        store.write(records[i:i + batch])
        spent += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        done += len(records[i:i + batch])
        if spent >= seconds:
            break
    # They lie after the newest stored, at the home's rate: up to a day and a half ahead of the clock. Left in, each
    # run made the hot tier longer (3.4 million rows over 12 days after a dozen runs, where a home keeps ~2 days)
    # and the reads after it slower; deleted (not timed), the store is again the one built.
    store.delete(_time(start), _time(to_micros(parse_timestamp(records[done - 1]["time_fired"])) + 1))
    store.close()
    return done / spent, done / cpu


def startup(url: str) -> float:
    code = ("import sys,time; t=time.perf_counter(); sys.path[:0]=[sys.argv[2]]; "
            "from ingestor.store import open_event_store; from ingestor.store.model import EventFilter; "
            "import datetime as dt; s=open_event_store(sys.argv[1]); "
            "s.count(EventFilter(start=dt.datetime.now(dt.UTC)-dt.timedelta(hours=1))); "
            "print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code, url, str(REPO / "functions" / "common")], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip())


def measure(url: str, runs: int, tables: bool, write_seconds: float, only: list[str] | None = None) -> None:
    store = open_event_store(url)
    total = store.count(EventFilter())
    print(f"# scale benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}, load {os.getloadavg()}, "
          f"{cpu_check()}")
    print(f"\n{total:,} events in {url.split(':', 1)[0]}")
    size = size_of(url)
    if size:
        what = {"sqlite": "database file and WAL", "postgresql": "tables and indexes, WAL not counted"}.get(
            url.split(":", 1)[0], "its shards' TSM files and WAL, SHOW STATS")
        print(f"\non disk: {size / 1e9:.2f} GB = {size / total:.1f} bytes/event ({what})")
    if tables:
        for name, pages in sql_tables(url):
            print(f"  {name:32s} {pages / total:6.2f} B/event")
    chain = None
    found = store.query(EventFilter(event_type="automation_triggered"), limit=1).items
    if found:
        chain = found[0]["context"]["parent_id"]
    store.close()
    home = BusyHome()
    device = next(e.device_id for e in home.entities if e.device_id)
    with tempfile.TemporaryDirectory(prefix="ha-ingestor-scale-") as folder:
        metadata_url = f"sqlite:///{folder}/metadata.db"
        db = MetadataDB(metadata_url)
        db.apply(registry(home))
        db.engine.dispose()
        env = {"TEST_EVENT_STORE_URL": url, "TEST_METADATA_DB_URL": metadata_url}
        (Path(folder) / "runtime").mkdir()
        with LocalRuntime(Path(folder) / "runtime", stack=STACK, env=env) as runtime:
            base = f"{runtime.gateway}/function/query"
            print(f"\n## query API through the gateway, ms p50 / p95 ({runs} runs after {WARMUPS} warm-ups)\n")
            print("| endpoint | " + " | ".join(label for label, _ in RANGES) + " |")
            print("|---|" + "---:|" * len(RANGES))
            for label, path, query, ranged in endpoints(home, chain, device):
                if only and not any(label.startswith(o) for o in only):
                    continue
                cells = []
                for _, start in (RANGES if ranged else RANGES[:1]):
                    q = {**query, **({"start": start} if ranged else {})}
                    target = f"{base}{urllib.parse.quote(path, safe='/')}" + (
                        f"?{urllib.parse.urlencode(q)}" if q else "")
                    try:
                        p50, p95, first, resolution = timed(target, runs)
                        cells.append(f"{p50:,.0f} / {p95:,.0f}" + (f" ({resolution})" if resolution else ""))
                    except Exception as exc:  # noqa: BLE001 - reported in its cell
                        cells.append(f"error: {str(exc)[:60]}")
                    log(f"{label} {q}: {cells[-1]}" + (f", first call {first:,.0f}" if cells[-1][0].isdigit() else ""))
                print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    if write_seconds > 0:  # 0: the store is only read (two versions of the code measured in turns on one store)
        print("\n## write into the full store (fresh events after the newest stored, through `write`)\n")
        for batch in (1000, 5000):
            rate, cpu_rate = write_rate(url, write_seconds, batch)
            print(f"- batch {batch:,}: {rate:,.0f} events/s ({cpu_rate:,.0f} per CPU second)", flush=True)
    print(f"\n## start-up: a fresh process opens the store and answers a 1-hour count: {startup(url):.2f} s")
    print(f"\nat the end: {dt.datetime.now(dt.UTC):%H:%M} UTC, load {os.getloadavg()}, {cpu_check()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=("build", "measure", "check"))
    parser.add_argument("--url", required=True, help="the event store (sqlite:////path, postgresql://, influxdb://)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    parser.add_argument("--base-days", type=int, help="load the newest N days only, copy them to the older days")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tables", action="store_true", help="bytes per event of each SQL table and index")
    parser.add_argument("--write-seconds", type=float, default=60, help="0: no write phase (the store is only read)")
    parser.add_argument("--only", help="comma-separated endpoint labels (prefixes) to time, e.g. 'devices,areas'")
    args = parser.parse_args()
    if args.phase == "build" and args.base_days:
        build_copied(args.url, args.days, args.base_days, args.per_day)
    elif args.phase == "build":
        build(args.url, args.days, args.per_day)
    elif args.phase == "check":
        if not args.base_days:
            parser.error("check needs --base-days (how many of the newest days were loaded)")
        check(args.url, args.base_days)
    else:
        measure(args.url, args.runs, args.tables, args.write_seconds, args.only.split(",") if args.only else None)


if __name__ == "__main__":
    main()
