"""Energy endpoints over 30 and 365 days: how long each takes on a year of one home's energy data.

The dataset: `--meters` energy meters reading every `--interval` seconds for `--days` days ending now (meter 0
is a daily-reset meter, HA's utility_meter cycle, so every one of its days holds a reset hour that is read from
raw events; the others count up for ever), a switch toggled four times a day, and the context series the
endpoints read: the Agile price and carbon intensity every 30 min, outdoor temperature every 15 min. Written
day by day through the store's own `write` (which keeps the 5m/1h/1d rollups the endpoints read). Each
endpoint is then answered by the query function's own code (ingestor.queries.energy) in this process, no HTTP,
`--runs` times after one warm-up; prints the median and the slowest, the median CPU time of the process, and
the load average beside them.
Asserts nothing about time.

    python bench/energy_benchmark.py [--backends sqlite,postgresql,influxdb1] [--days 365] [--meters 10]
    python bench/energy_benchmark.py --store sqlite:////path/events.db --end 2026-11-30T18:00:00Z  # measure again
    python bench/energy_benchmark.py --store sqlite:////path/events.db --end 2026-11-30T17:37:00Z  # ending mid-hour
    python bench/energy_benchmark.py --store sqlite:////path/events.db --time-zone Europe/London  # a home's clock
    python bench/energy_benchmark.py --store sqlite:////data/year.db --switch switch.kitchen_socket_1 \
        --meter-ids sensor.energy_grid_import,sensor.energy_solar  # another store's meters (the scale benchmark's)

Before the endpoints, it times opening the store and its first answer, and on a database made before the meters'
rises were kept (schema step 8), their fill (which the store leaves to its writes) to the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.store_benchmark import machine  # noqa: E402
from ingestor import hometime, record  # noqa: E402
from ingestor.queries import energy  # noqa: E402
from ingestor.queries.params import Range  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.timeutil import format_timestamp  # noqa: E402
from ingestor.units import unit_name  # noqa: E402

SWITCH = "switch.heater"


def _record(entity_id: str, at: dt.datetime, value: float | None, unit: str | None, state: str | None = None,
            domain: str = "sensor") -> dict[str, Any]:
    stamp = format_timestamp(at)
    return record.new(hashlib.md5(f"{entity_id}|{stamp}".encode()).hexdigest(), "state_changed", stamp,
                      origin="LOCAL", entity_id=entity_id, domain=domain,
                      state=state if state is not None else f"{value:.4f}", state_value=value,
                      unit=unit_name(unit) if unit else None)


def day_records(day: dt.datetime, meters: int, interval: int, totals: list[float]) -> list[dict[str, Any]]:
    out = []
    for step in range(0, 86_400, interval):
        at = day + dt.timedelta(seconds=step)
        hour = at.hour
        for m in range(meters):
            totals[m] += (0.02 + 0.01 * m) * (1.5 if 16 <= hour < 19 else 1.0) * interval / 300
            if m == 0 and step == 0:
                totals[0] = 0.0  # the daily cycle of a utility meter starts again at midnight
            out.append(_record(f"sensor.meter_{m}_energy", at, round(totals[m], 4), "kWh"))
    for half in range(48):
        at = day + dt.timedelta(minutes=30 * half)
        out.append(record.new(hashlib.md5(f"p{at}".encode()).hexdigest(), "context_sample", format_timestamp(at),
                              entity_id="context.electricity_price_price", domain="context",
                              state_value=10 + 20 * (32 <= half < 38), state="x", unit="pence_per_kilowatt_hour"))
        out.append(record.new(hashlib.md5(f"c{at}".encode()).hexdigest(), "context_sample", format_timestamp(at),
                              entity_id="context.carbon_intensity_intensity", domain="context",
                              state_value=150 + half, state="x", unit="gram_co2_per_kilowatt_hour"))
    for quarter in range(96):
        at = day + dt.timedelta(minutes=15 * quarter)
        out.append(record.new(hashlib.md5(f"t{at}".encode()).hexdigest(), "context_sample", format_timestamp(at),
                              entity_id="context.weather_temperature", domain="context",
                              state_value=8 + (quarter % 48) / 8, state="x", unit="celsius"))
    for hour, state in ((6, "on"), (9, "off"), (17, "on"), (22, "off")):
        out.append(_record(SWITCH, day + dt.timedelta(hours=hour), None, None, state, "switch"))
    return out


def build(url: str, days: int, meters: int, interval: int, end: dt.datetime) -> tuple[int, float]:
    store = open_event_store(url)
    totals = [1000.0] * meters
    written, started = 0, time.perf_counter()
    try:
        for d in range(days, 0, -1):
            batch = day_records(end - dt.timedelta(days=d), meters, interval, totals)
            store.write(batch)
            written += len(batch)
            if d % 30 == 0:
                print(f"  {days - d} days, {written:,} events, {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        store.close()
    return written, time.perf_counter() - started


def _meter_ids(meters: int) -> list[str]:
    return [f"sensor.meter_{m}_energy" for m in range(meters)]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    """Median and slowest wall time, and the median CPU time of this process (what a shared machine's load
    inflates the least), in milliseconds."""
    fn()
    times, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(times), max(times), statistics.median(cpu)


def measure(url: str, meter_ids: list[str], end: dt.datetime, runs: int, switch: str = SWITCH,
            clock: hometime.HomeClock = hometime.UTC_CLOCK) -> None:
    entities = [{"entity_id": m, "name": m, "area_name": None, "device_class": "energy",
                 "unit_of_measurement": "kWh"} for m in meter_ids]
    one = meter_ids[min(1, len(meter_ids) - 1)]
    started, cpu = time.perf_counter(), time.process_time()
    store = open_event_store(url, read_timeout=600)
    energy.summary(store, entities, Range(end - dt.timedelta(days=1), end))
    print(f"  opened, first answer (a day's summary) in {time.perf_counter() - started:8.2f} s  "
          f"cpu {time.process_time() - cpu:8.2f} s  load {os.getloadavg()[0]:.2f}", flush=True)
    fill = getattr(store, "fill_rises", None)  # schema step 8's fill, left to the writes (none here): done first
    if fill is not None:
        started, cpu = time.perf_counter(), time.process_time()
        while not fill(1.0):
            pass
        print(f"  meters' rises filled in {time.perf_counter() - started:8.2f} s  "
              f"cpu {time.process_time() - cpu:8.2f} s  load {os.getloadavg()[0]:.2f}", flush=True)
    for days in (30, 365):
        r = Range(end - dt.timedelta(days=days), end)
        calls: dict[str, Callable[[], Any]] = {
            "summary": lambda r=r: energy.summary(store, entities, r, clock),
            "hourly (1h)" if days <= 30 else "hourly (1d)":
                lambda r=r, days=days: energy.hourly(store, entities, r, 3600 if days <= 30 else 86_400, None, clock),
            "hourly, one meter": lambda r=r: energy.hourly(store, entities, r, 86_400, one, clock),
            "correlation": lambda r=r: energy.correlation(store, entities, r, None),
            "impact": lambda r=r: energy.impact(store, entities, r, switch, "on", one),
            "recommendations": lambda r=r: energy.recommendations(store, entities, r, clock),
        }
        for name, fn in calls.items():
            median, slowest, cpu = timed(fn, runs)
            print(f"  {days:>3} d  {name:<20} median {median:8.1f} ms  slowest {slowest:8.1f} ms  "
                  f"cpu {cpu:8.1f} ms  load {os.getloadavg()[0]:.2f}", flush=True)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--meters", type=int, default=10)
    parser.add_argument("--interval", type=int, default=300, help="seconds between a meter's readings")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", help="measure this store, built before by this script, instead of building one")
    parser.add_argument("--meter-ids", help="with --store: its energy meters (comma-separated entity ids) instead of "
                                            "this script's sensor.meter_N_energy")
    parser.add_argument("--switch", default=SWITCH, help="with --store: the switch the impact endpoint reads")
    parser.add_argument("--time-zone", help="the home's (HA's time_zone, e.g. Europe/London): its days and hours "
                                            "of the day; default UTC, as before HA's config is known")
    parser.add_argument("--end", help="with --store: where the ranges end (ISO 8601), e.g. the hour its data ends, "
                                      "or within an hour of data, as the dashboard's ranges end now")
    args = parser.parse_args()
    if args.store:
        end = dt.datetime.fromisoformat(args.end) if args.end else dt.datetime.now(dt.UTC)
        ids = args.meter_ids.split(",") if args.meter_ids else _meter_ids(args.meters)
        clock = hometime.of({"time_zone": args.time_zone} if args.time_zone else None)
        print(f"energy benchmark on {machine()}: {args.store} ({len(ids)} meters), data ending {end.isoformat()}, "
              f"home's clock {clock.name}")
        measure(args.store, ids, end, args.runs, args.switch, clock)
        return
    print(f"energy benchmark on {machine()}: {args.meters} meters every {args.interval} s, {args.days} days")
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    servers: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for backend in args.backends.split(","):
                if backend == "sqlite":
                    url = f"sqlite:///{tmp}/events.db"
                elif backend == "postgresql":
                    from tests.support.servers import PostgresServer

                    servers.append(PostgresServer().start())
                    url = servers[-1].new_database()
                elif backend == "influxdb1":
                    from tests.support.servers import InfluxDB1Server

                    servers.append(InfluxDB1Server().start())
                    url = servers[-1].url("energy_bench")
                else:
                    raise SystemExit(f"unknown backend {backend}")
                print(f"{backend}: writing")
                written, seconds = build(url, args.days, args.meters, args.interval, end)
                print(f"{backend}: {written:,} events in {seconds:.0f} s ({written / seconds:,.0f}/s), "
                      f"load {os.getloadavg()[0]:.2f}")
                measure(url, _meter_ids(args.meters), end, args.runs)
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
