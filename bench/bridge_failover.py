"""gateway-bridge under faults: time from a bridge kill to the first event stored again, backfill events/s, and
loss per event type under each fault, through the whole local pipeline against the real HA 2024.3.3.

Scenarios (each on a fresh local runtime: validate → normalize → weather-enrich → write (SQLite) and
webhook-dispatch with one webhook for every event; the driver of tests/bridge/drive.py fires state changes,
service calls, automation runs, script runs and logbook entries through HA's REST API; HA's own WebSocket says
what was fired):

- kill, 2 replicas: SIGKILL bridge-1 mid-drive, later bridge-2 (the default deployment);
- kill, 1 replica: SIGKILL the only bridge (BRIDGE_REPLICAS=1): what a single replica loses;
- HA restart, 2 replicas;
- NATS down, 2 replicas: nats-server killed and kept from restarting for --nats-down-s seconds.

"Stored again" = the first event HA fired after the kill that the store holds, minus the kill (the store is
polled every 20 ms). Backfill events/s: one bridge alone (its own nats-server) is stopped, --backfill-steps
driver steps are made, it is started, and the gap it records is timed as its "backfilled a gap" log line
says (the passes over the gap: history, logbook, what the stream holds, durable; not the recheck pass's
wait); every event of the gap but its service calls must then be on ha.events.raw.

    .venv/bin/python bench/bridge_failover.py [--scenarios kill2,kill1,restart,nats,backfill] [--nats-down-s 60]
Figures are printed, never asserted. Shared machine: say what else ran.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local"),
                str(REPO / "gateway-bridge")]

from bench import storerows  # noqa: E402
from ingestor.event_id import event_id  # noqa: E402
from localfaas.natsserver import NatsServer  # noqa: E402
from tests.bridge.bridgeproc import BridgeProcess  # noqa: E402
from tests.bridge.drive import Driver, Window, now, recorder, register_webhook, settled, start_pipeline, tally  # noqa: E402  # noqa: E402
from tests.bridge.streamreader import StreamReader, probe_value  # noqa: E402
from tests.support.homeassistant import HomeAssistant, ensure_venv  # noqa: E402
from tests.support.jetstream import queue_with_validate  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402
from tests.support.runtime import LocalRuntime  # noqa: E402
from tests.webhooks.receiver import receiving  # noqa: E402


class StoreArrivals:
    """When each event first became readable in the SQLite store (wall time), polled every `interval` s."""

    def __init__(self, database: Path, interval: float = 0.02) -> None:
        self.database = database
        self.interval = interval
        self.seen: list[tuple[float, float]] = []  # (readable at, time_fired), epoch seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.database.is_file() and not self._stop.is_set():
            time.sleep(0.1)
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, check_same_thread=False)
        last = 0
        while not self._stop.is_set():
            try:
                rows = conn.execute(storerows.NEW_ROWS, (last,)).fetchall()
            except sqlite3.OperationalError:
                rows = []
            arrived = time.time()
            for rowid, _, _, ts in rows:
                last = max(last, rowid)
                self.seen.append((arrived, ts / 1e6))
            self._stop.wait(self.interval)
        conn.close()

    def first_after(self, moment: float) -> float | None:
        """Seconds from `moment` until the first event fired after it was readable."""
        arrivals = [at for at, fired in self.seen if fired >= moment]
        return min(arrivals) - moment if arrivals else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def replica_health(runtime: LocalRuntime, index: int) -> dict[str, Any]:
    from tests.support.http import call

    try:
        return call("GET", runtime.ready["bridges"][index], timeout=3).json()
    except OSError:
        return {}


def kill_replica(runtime: LocalRuntime, index: int) -> float:
    """SIGKILL replica `index` (0-based); the kill's wall time. Waits until it is subscribed again."""
    name = f"bridge-{index + 1}"
    pid = runtime.bridge_pid(name)
    killed = time.time()
    os.kill(pid or 0, signal.SIGKILL)
    wait_for(lambda: runtime.bridge_pid(name) not in (None, pid) and replica_health(runtime, index).get("subscribed"),
             60)
    return killed


def scenario(ha: HomeAssistant, name: str, replicas: int, nats_down_s: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bridge-failover-{name}-"))
    runtime = start_pipeline(ha, workdir, replicas)
    database = workdir / "data" / "events.db"
    kills: list[float] = []
    try:
        with receiving("zero-loss-webhook-secret-8765") as receiver:
            register_webhook(runtime, receiver)
            wait_for(lambda: all(replica_health(runtime, i).get("subscribed") for i in range(replicas)), 60)
            arrivals = StoreArrivals(database)
            listening = recorder(ha)
            windows = [Window(now(), now())]
            after = None
            with Driver(ha) as driver:
                time.sleep(5)
                if name in ("kill2", "kill1"):
                    kills.append(kill_replica(runtime, 0))
                    time.sleep(5)
                    if replicas == 2:
                        kills.append(kill_replica(runtime, 1))
                        time.sleep(5)
                elif name == "restart":
                    windows[0].end = now()
                    ha.restart()
                    after = recorder(ha)
                    windows.append(Window(now(), now()))
                    wait_for(lambda: all(replica_health(runtime, i).get("subscribed") for i in range(replicas)), 60)
                    time.sleep(5)
                elif name == "nats":
                    with runtime.nats_held_down():
                        time.sleep(nats_down_s)
                    time.sleep(5)
            (after or listening).quiet_for(2)
            windows[-1].end = now()
            listening.close()
            windows[0].record(listening)
            if after is not None:
                after.close()
                windows[-1].record(after)
            found = tally(windows, settled(database, windows, timeout=300), receiver)
            arrivals.close()
    finally:
        runtime.stop()
    return {"scenario": name, "replicas": replicas, "driver_steps": driver.steps,
            "per_type": found.rows(), "stored_twice": found.twice_stored, "undelivered": found.undelivered,
            "delivered_twice": found.twice_delivered, "unverified_deliveries": found.unverified,
            "kill_to_first_stored_s": [round(d, 2) if (d := arrivals.first_after(k)) is not None else None
                                       for k in kills]}


def backfill_rate(ha: HomeAssistant, steps: int) -> dict[str, Any]:
    """One bridge alone: stopped while `steps` driver steps happen, then started; its gap timed from its log."""
    workdir = Path(tempfile.mkdtemp(prefix="bridge-backfill-"))
    nats = NatsServer(workdir / "nats").start()
    queue_with_validate(nats.url)
    bridge = BridgeProcess(workdir / "bridge", ha.url, nats.url, ha.token, {"LOG_LEVEL": "INFO"})
    stream = StreamReader(nats.url)
    try:
        bridge.start().wait_connected(60)
        first = ha.probe_changes(3)  # durable events: the cursor the gap will start from
        wait_for(lambda: {probe for e in stream.probe_events() if (probe := probe_value(e))} >= set(first), 30)
        bridge.stop()
        listening = recorder(ha)
        window = Window(now(), now())
        with Driver(ha, pause_s=0) as driver:
            while driver.steps < steps:
                time.sleep(0.2)
        listening.quiet_for(2)
        window.end = now()
        listening.close()
        window.record(listening)
        fired = {e for ids in window.fired.values() for e in ids}
        backfillable = {k: len(v) for k, v in window.fired.items() if k != "call_service"}
        started = time.monotonic()
        bridge.start()
        done = wait_for(lambda: any(line.get("msg") == "backfilled a gap" for line in bridge.logs()), 300, 0.2)
        wall = time.monotonic() - started
        lines = bridge.logs()
        filled = next(line for line in lines if line.get("msg") == "backfilled a gap")
        seconds = filled["seconds"]  # the passes over the gap (history, logbook, stream, durable), not the recheck wait
        on_stream = {event_id(e) for e in stream.raw_events()}
        forwarded = sum(filled["events"].values())
        return {"driver_steps": driver.steps, "fired": {k: len(v) for k, v in window.fired.items()},
                "backfilled": filled["events"], "backfill_s": round(seconds, 2),
                "events_per_s": round(forwarded / seconds) if seconds else None,
                "start_to_backfilled_s": round(wall, 2) if done else None,
                "missing_on_stream_besides_call_service": len(
                    {e for k, ids in window.fired.items() if k != "call_service" for e in ids} - on_stream),
                "backfillable": backfillable, "all_fired": len(fired)}
    finally:
        stream.close()
        bridge.stop()
        nats.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="kill2,kill1,restart,nats,backfill")
    parser.add_argument("--nats-down-s", type=float, default=60)
    parser.add_argument("--backfill-steps", type=int, default=1000)
    args = parser.parse_args()
    ensure_venv()
    load = os.getloadavg()
    print(json.dumps({"python": platform.python_version(), "machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "load_before": [round(x, 1) for x in load],
                      "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ha = HomeAssistant(Path(tmp) / "ha").start()
        try:
            for name in args.scenarios.split(","):
                if name == "backfill":
                    result: dict[str, Any] = {"scenario": "backfill", **backfill_rate(ha, args.backfill_steps)}
                else:
                    result = scenario(ha, name, 1 if name == "kill1" else 2, args.nats_down_s)
                result["load_after"] = [round(x, 1) for x in os.getloadavg()]
                print(json.dumps(result), flush=True)
        finally:
            ha.stop()


if __name__ == "__main__":
    main()
