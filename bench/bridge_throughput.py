"""How fast gateway-bridge forwards HA events to JetStream, and what it costs at 100 and 1,000 events/s.

HA is replaced by a local WebSocket server (tests/bridge/replay.py) replaying events recorded from a
real HA 2024.3.3 (tests/bridge/recorded/), each moved to its own microsecond so every event_id is new.
The bridge runs as users run it (`python -m ha_bridge`, default batching: 100 events / 100 ms) and
publishes to a real nats-server with JetStream. An event counts once JetStream acknowledged it (the
bridge's bridge_events_published_total). CPU and RSS are the bridge process's own, from /proc.
Prints figures; asserts nothing about time.

    .venv/bin/python bench/bridge_throughput.py [--events 50000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local"),
                str(REPO / "gateway-bridge")]

from aiohttp import web  # noqa: E402

from ha_bridge.settings import DEFAULT_EVENT_TYPES  # noqa: E402
from ingestor import subjects  # noqa: E402
from localfaas import ports, procs  # noqa: E402
from localfaas.natsserver import NatsServer  # noqa: E402
from tests.bridge.replay import ReplayServer, load_recording, recorded_events, retimed  # noqa: E402
from tests.support.jetstream import queue_with_validate  # noqa: E402
from tests.support.metrics import sample  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def frames(events: list[dict[str, Any]], per_frame: int) -> list[str]:
    """Event messages as HA sends them: one per frame, or JSON arrays when coalesce_messages is on.

    An event message's id is its subscription's: the bridge subscribes in DEFAULT_EVENT_TYPES order
    right after supported_features (id 1), so those ids are known before it connects.
    """
    sub_ids = {kind: i for i, kind in enumerate(DEFAULT_EVENT_TYPES, start=2)}
    messages = [json.dumps({"id": sub_ids.get(e["event_type"], 2), "type": "event", "event": e},
                           separators=(",", ":")) for e in events]
    if per_frame == 1:
        return messages
    return ["[" + ",".join(messages[i:i + per_frame]) + "]" for i in range(0, len(messages), per_frame)]


class Feed:
    """The replay server's script: send frames prepared in advance, at full speed or at a fixed rate."""

    def __init__(self, events: list[dict[str, Any]], per_frame: int, rate: float | None) -> None:
        self.frames = frames(events, per_frame)
        self.per_frame, self.rate = per_frame, rate
        self.started = self.finished = 0.0

    async def __call__(self, ws: web.WebSocketResponse, subscriptions: dict[str, int]) -> None:
        await asyncio.sleep(0.5)  # let discovery settle
        self.started = time.monotonic()
        if self.rate is None:
            for frame in self.frames:
                await ws.send_str(frame)
        else:
            interval = self.per_frame / self.rate
            for i, frame in enumerate(self.frames):
                await ws.send_str(frame)
                await asyncio.sleep(max(0.0, self.started + (i + 1) * interval - time.monotonic()))
        self.finished = time.monotonic()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_case(workdir: Path, nats_url: str, events: list[dict[str, Any]], per_frame: int,
             rate: float | None) -> dict[str, Any]:
    feed = Feed(events, per_frame, rate)
    replay = ReplayServer(script=feed).start()
    reserved = ports.reserve()  # the bridge's health port, no one else's while the bridge may bind it
    port = reserved.port
    env = {**os.environ, "HA_URL": replay.url, "HA_TOKEN": replay.token, "NATS_URL": nats_url,
           "BRIDGE_SPOOL_DIR": str(workdir / f"spool-{per_frame}-{rate}"), "BRIDGE_HEALTH_HOST": "127.0.0.1",
           "BRIDGE_HEALTH_PORT": str(port), "BRIDGE_BACKFILL": "false", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("functions/common", "gateway-bridge"))}
    log = open(workdir / "bridge.log", "ab")  # noqa: SIM115 - closed below
    bridge = subprocess.Popen([sys.executable, "-m", "ha_bridge"], env=env, stdout=log, stderr=log)
    metrics_url = f"http://127.0.0.1:{port}/metrics"

    def published() -> float:
        try:
            return sample(metrics_url, "ha_ingestor_bridge_events_published_total", subject=subjects.RAW)
        except OSError:
            return 0.0

    try:
        deadline = time.monotonic() + 30
        while not feed.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not feed.started:
            raise RuntimeError(f"the bridge never subscribed; see {workdir / 'bridge.log'}")
        cpu0, wall0 = cpu_seconds(bridge.pid), time.monotonic()
        rss_samples = []
        deadline = time.monotonic() + max(120, len(events) / 200)
        poll = 0.05 if rate is None else 1.0  # scraping /metrics costs the bridge CPU too: rarely at fixed rates
        while published() < len(events) and time.monotonic() < deadline:
            rss_samples.append(rss_mib(bridge.pid))
            time.sleep(poll)
        done = time.monotonic()
        cpu1 = cpu_seconds(bridge.pid)
        forwarded = published()
        return {
            "events": len(events), "forwarded": int(forwarded), "per_frame": per_frame, "rate": rate,
            "seconds": done - feed.started, "events_per_s": forwarded / (done - feed.started),
            "send_s": feed.finished - feed.started,
            "cpu_percent": 100 * (cpu1 - cpu0) / (done - wall0),
            "rss_mib": sorted(rss_samples)[len(rss_samples) // 2] if rss_samples else rss_mib(bridge.pid),
            "peak_rss_mib": rss_mib(bridge.pid, "VmHWM"),
        }
    finally:
        procs.stop(bridge, grace=20)
        log.close()
        replay.stop()


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="events for the full-speed runs")
    parser.add_argument("--seconds", type=float, default=20, help="length of each fixed-rate run")
    args = parser.parse_args()
    recorded = recorded_events(load_recording())
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with NatsServer(workdir / "nats") as nats_server:
            queue_with_validate(nats_server.url)
            cases = [("full speed, coalesced arrays of 50", args.events, 50, None),
                     ("full speed, one message per frame", args.events, 1, None),
                     ("100 events/s, one message per frame", int(100 * args.seconds), 1, 100.0),
                     ("1,000 events/s, arrays of 10 every 10 ms", int(1000 * args.seconds), 10, 1000.0)]
            for n, (label, count, per_frame, rate) in enumerate(cases):
                events = retimed(recorded, count, start + dt.timedelta(minutes=10 * n))
                result = run_case(workdir, nats_server.url, events, per_frame, rate)
                rows.append((label, result))
                shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
                print(f"{label}: {json.dumps(shown)}", file=sys.stderr)
    today = dt.date.today().isoformat()
    print(f"\n**gateway-bridge** (`bench/bridge_throughput.py`, {today}, {machine()}; replay server, bridge and "
          f"nats-server on one machine; recorded HA 2024.3.3 events, {len(recorded)} distinct shapes re-timed)\n")
    print("| what ran | events | forwarded (acked) | events/s | replay server's own send time | bridge CPU "
          "| bridge RSS (median / peak) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in rows:
        print(f"| {label} | {r['events']:,} | {r['forwarded']:,} | {r['events_per_s']:,.0f} | {r['send_s']:.1f} s "
              f"| {r['cpu_percent']:.1f}% of a core | {r['rss_mib']:.0f} / {r['peak_rss_mib']:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
