"""End-to-end latency: a state change in a real Home Assistant → queryable in the store, on the local stack.

Starts the demo's sandbox HA (real HA 2024.3.3 in .venv-ha) and the whole local stack (stack.yml, bridge
included), then sets sensor.grid_power to a new value at 10, 100 and 1,000 changes/s over a pipelined WebSocket
(demo.driver.pump). Latency of one change = the moment it is first readable in the event store (polled every
10 ms, reading only the rows committed since the last poll) minus the wall time just before the driver sent the
call. It is split into HA's share (time_fired − sent) and the pipeline's (readable − time_fired). "HA fired/s"
is the pace HA really kept (changes over the span of their time_fired): pipelined sends only fill HA's queue.
Each rate's total is confirmed through the query API (/stats/summary). The sustained maximum: rates rise until
the lag at the end of a run is more than twice its start plus a second (it grows without bound), or HA cannot
keep the pace.

    .venv/bin/python bench/e2e_latency.py [--seconds 15] [--rates 10,100,1000] [--max-probe 200,400,600]
Figures are printed, never asserted. Shared machine: say what else ran.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local"),
                str(REPO / "gateway-bridge")]

from bench import storerows  # noqa: E402
from bench.store_benchmark import percentile  # noqa: E402
from demo import home  # noqa: E402
from demo.driver import pump  # noqa: E402
from tests.support.homeassistant import HomeAssistant, ensure_venv  # noqa: E402
from tests.support.runtime import LocalRuntime  # noqa: E402

ENTITY = "sensor.grid_power"


class StoreWatch:
    """Polls the SQLite event store for ENTITY's values: when each first became readable, and its time_fired."""

    def __init__(self, database: Path, interval: float = 0.01) -> None:
        self.database = database
        self.interval = interval
        self.seen: dict[int, tuple[float, float]] = {}  # value -> (readable at, time_fired), epoch seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StoreWatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self.database.is_file() and not self._stop.is_set():
            time.sleep(0.1)
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, check_same_thread=False)
        try:
            # rows get increasing rowids as they are committed: each poll reads only what is new since the last
            last = conn.execute(storerows.LAST_ROWID).fetchone()[0]
            while not self._stop.is_set():
                try:
                    rows = conn.execute(storerows.NEW_ROWS, (last,)).fetchall()
                except sqlite3.OperationalError:  # locked for a moment
                    rows = []
                now = time.time()
                for rowid, entity_id, state, ts in rows:
                    last = max(last, rowid)
                    if entity_id != ENTITY:
                        continue
                    try:
                        value = int(float(state))
                    except (TypeError, ValueError):
                        continue
                    self.seen.setdefault(value, (now, ts / 1e6))
                time.sleep(self.interval)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def api_count(gateway: str, start: float, end: float) -> int | None:
    params = urllib.parse.urlencode({"entity_id": ENTITY, "event_type": "state_changed",
                                     "start": dt.datetime.fromtimestamp(start, dt.UTC).isoformat(),
                                     "end": dt.datetime.fromtimestamp(end, dt.UTC).isoformat()})
    try:
        with urllib.request.urlopen(f"{gateway}/function/query/stats/summary?{params}", timeout=30) as r:
            return int(json.loads(r.read())["total"])
    except (OSError, ValueError, KeyError):
        return None


def run_rate(ha: HomeAssistant, runtime: LocalRuntime, database: Path, rate: float, seconds: float,
             drain: float = 60) -> dict[str, object]:
    sent: dict[int, float] = {}
    first = int(time.time() * 1000)  # values never used before, so every set is a state change
    watch = StoreWatch(database).start()
    began = time.time()
    count, took, errors = pump(ha.ws_url, ha.token or "", ENTITY, rate, seconds, first,
                               lambda value, at: sent.__setitem__(value, at))
    deadline = time.monotonic() + drain
    while len(watch.seen) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    watch.stop()
    ended = time.time() + 1
    latencies = [watch.seen[v][0] - t for v, t in sent.items() if v in watch.seen]
    ha_share = [watch.seen[v][1] - t for v, t in sent.items() if v in watch.seen]
    pipeline = [watch.seen[v][0] - watch.seen[v][1] for v in sent if v in watch.seen]
    fired = [watch.seen[v][1] for v in sent if v in watch.seen]  # HA's time_fired: the pace HA really kept
    third = max(1, len(sent) // 3)
    ordered = [watch.seen[v][0] - sent[v] for v in sorted(sent) if v in watch.seen]
    head, tail = statistics.median(ordered[:third] or [0]), statistics.median(ordered[-third:] or [0])
    time.sleep(1.5)
    return {
        "rate": rate, "sent": count, "sent_rate": round(count / took, 1) if took else None,
        "ha_fired_rate": round(len(fired) / (max(fired) - min(fired)), 1) if len(fired) > 1 else None,
        "ha_errors": len(errors),
        "readable": len(watch.seen), "api_total": api_count(runtime.gateway, began - 1, ended),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "ha_p50_ms": round(percentile(ha_share, 50) * 1000, 1) if ha_share else None,
        "pipeline_p50_ms": round(percentile(pipeline, 50) * 1000, 1) if pipeline else None,
        "first_third_p50_ms": round(head * 1000, 1), "last_third_p50_ms": round(tail * 1000, 1),
    }


def sustained(result: dict[str, object]) -> bool:
    """Every change readable, HA kept the pace (its time_fired, not our sends), and the lag did not grow."""
    head, tail = float(result["first_third_p50_ms"]), float(result["last_third_p50_ms"])  # type: ignore[arg-type]
    return (result["readable"] == result["sent"] and not result["ha_errors"]
            and float(result["ha_fired_rate"] or 0) >= 0.95 * float(result["rate"])  # type: ignore[arg-type]
            and tail <= 2 * head + 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="per rate")
    parser.add_argument("--rates", default="10,100,1000")
    parser.add_argument("--max-probe", default="200,400,600,800,1000,1300,1600,2000",
                        help="rising rates for the sustained maximum (stops at the first that is not)")
    args = parser.parse_args()
    ensure_venv()
    print(f"# e2e latency: HA state change -> readable in the store; {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    with tempfile.TemporaryDirectory(prefix="e2e-latency-") as tmp:
        workdir = Path(tmp)
        ha = HomeAssistant(workdir / "homeassistant", write_config=home.write_config).start(timeout=180)
        try:
            (workdir / "secrets").mkdir()
            (workdir / "secrets" / "ha-token").write_text(ha.token or "")
            with LocalRuntime(workdir, stack=REPO / "stack.yml", env={"HA_URL": ha.url}) as runtime:
                database = workdir / "data" / "events.db"
                time.sleep(5)  # the bridge subscribes, the registry snapshot flows through
                run_rate(ha, runtime, database, 20, 3)  # warm-up: every stage's first invocation, discarded
                results = [run_rate(ha, runtime, database, float(r), args.seconds) for r in args.rates.split(",")]
                for r in results:
                    print(json.dumps(r), flush=True)
                best = None
                for rate in args.max_probe.split(","):
                    r = run_rate(ha, runtime, database, float(rate), args.seconds)
                    ok = sustained(r)
                    print(json.dumps({**r, "sustained": ok}), flush=True)
                    if not ok:
                        break
                    best = float(rate)
        finally:
            ha.stop()
    print("\n| rate/s | sent | HA fired/s | readable | via API | p50 ms | p95 ms | p99 ms | HA p50 | pipeline p50 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rate']:.0f} | {r['sent']} | {r['ha_fired_rate']} | {r['readable']} | {r['api_total']} | "
              f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['ha_p50_ms']} | {r['pipeline_p50_ms']} |")
    print(f"\nsustained maximum: {best:.0f} changes/s" if best else "\nsustained maximum: below the first probe")
    return 0


if __name__ == "__main__":
    sys.exit(main())
