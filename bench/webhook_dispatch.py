"""Webhook dispatch: deliveries/s to a healthy receiver with 1, 10 and 100 registered webhooks, and the time to
drain a backlog held while the receiver was down.

Every webhook matches every event (`event_types: ["*"]`), so each event makes one delivery per webhook.
The dispatch logic runs in process exactly as webhook-dispatch runs it per batch (match, record each
delivery in the metadata DB, sign, POST through the pooled session and thread pool, record the result);
the receiver is a separate process on 127.0.0.1 (ThreadingHTTPServer, HTTP/1.1 keep-alive) that
verifies every signature and counts. The timed span is the sum of `dispatch(batch)` calls; the receiver's
count is checked against the deliveries reported.

The backlog: one webhook whose receiver answers 503 is paused by its first failure (WEBHOOK_PAUSE_AFTER=1,
WEBHOOK_PAUSE_AFTER_S=0), then --backlog events are dispatched and held; the receiver answers 200 again and
the sweeper (its thread, WEBHOOK_SWEEP_S=0.2, probe every second) probes, resumes the webhook and sends what
it held in order of arrival. Timed: from the receiver answering again to the last delivery counted (the
first part is the wait for the probe). Prints figures; asserts nothing about time.

    python bench/webhook_dispatch.py [--deliveries 5000] [--batch 100] [--db sqlite|postgresql] [--workers 16]
                                     [--backlog 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from ingestor.webhooks.dispatch import Dispatcher  # noqa: E402
from ingestor.webhooks.settings import Settings  # noqa: E402
from ingestor.webhooks.store import WebhookStore  # noqa: E402
from tests.webhooks.events import ha_record  # noqa: E402

SECRET = "bench-webhook-secret-000001"
RECEIVER = textwrap.dedent("""
    import hashlib, hmac, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    SECRET = sys.argv[1].encode()
    counts = {"ok": 0, "bad": 0}
    answer = [200]  # what POSTs get; GET /answer/<code> changes it
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ts = self.headers["X-Webhook-Timestamp"]
            expected = "sha256=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            given = self.headers["X-Webhook-Signature"]
            ok = abs(time.time() - int(ts)) <= 300 and hmac.compare_digest(expected, given)
            with lock:
                status = answer[0] if ok else 401
                if status == 200:
                    counts["ok"] += 1
                elif not ok:
                    counts["bad"] += 1
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            with lock:
                if self.path.startswith("/answer/"):
                    answer[0] = int(self.path.rsplit("/", 1)[1])
                text = f"{counts['ok']} {counts['bad']}".encode()
                if self.path == "/count":
                    counts["ok"] = counts["bad"] = 0
            self.send_response(200)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
""")


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {load()}"


def receiver(port: int, path: str) -> tuple[int, int]:
    """(verified, unverified) POSTs answered 200 since the last /count; `path` /count resets them."""
    ok, bad = map(int, urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read().split())
    return ok, bad


def run(db_url: str, port: int, hooks: int, deliveries: int, batch: int, workers: int) -> tuple[float, int, int]:
    store = WebhookStore(db_url)
    for i in range(hooks):
        store.create(f"bench-{i}", f"http://127.0.0.1:{port}/hook/{i}", SECRET, {"event_types": ["*"]}, True)
    dispatcher = Dispatcher(store, Settings(allow_private=True, workers=workers, sweep_s=0, inline_budget_s=600,
                                            pause_after=1_000_000))
    events = [ha_record(f"sensor.bench_{i % 50}", state=str(i), salt=f"{hooks}-{i}")
              for i in range(max(deliveries // hooks, 1))]
    dispatcher.dispatch(events[:1])  # warm-up: schema, connections
    receiver(port, "/count")
    delivered = 0
    elapsed = 0.0
    for start in range(1, len(events), batch):
        began = time.perf_counter()
        summary = dispatcher.dispatch(events[start:start + batch])
        elapsed += time.perf_counter() - began
        delivered += summary.delivered
    ok, bad = receiver(port, "/count")
    dispatcher.stop()
    store.engine.dispose()
    if ok != delivered or bad:
        print(f"  !! receiver counted {ok} verified, {bad} unverified; dispatch reported {delivered}")
    return elapsed, delivered, ok


def drain(db_url: str, port: int, backlog: int, batch: int, workers: int) -> tuple[float, float, int]:
    """(seconds to the first delivery, seconds to the last, deliveries) after the receiver answers again."""
    store = WebhookStore(db_url)
    store.create("backlog", f"http://127.0.0.1:{port}/hook/backlog", SECRET, {"event_types": ["*"]}, True)
    dispatcher = Dispatcher(store, Settings(allow_private=True, workers=workers, sweep_s=0.2, inline_budget_s=600,
                                            pause_after=1, pause_after_s=0, probe_s=1.0))
    receiver(port, "/answer/503")
    events = [ha_record(f"sensor.backlog_{i % 50}", state=str(i), salt=f"backlog-{i}") for i in range(backlog + 1)]
    assert dispatcher.dispatch(events[:1]).paused, "the first failure pauses the webhook"
    for start in range(1, len(events), batch):
        dispatcher.dispatch(events[start:start + batch])
    receiver(port, "/count")
    receiver(port, "/answer/200")
    began = time.monotonic()
    dispatcher.start_sweeper()
    first = None
    delivered = 0
    while delivered < len(events) and time.monotonic() - began < 600:
        time.sleep(0.05)
        delivered = receiver(port, "/peek")[0]
        if delivered and first is None:
            first = time.monotonic() - began
    took = time.monotonic() - began
    dispatcher.stop()
    store.engine.dispose()
    return first or took, took, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000, help="deliveries per run (events = this / webhooks)")
    parser.add_argument("--batch", type=int, default=100, help="events per dispatched batch")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=10_000, help="events held while the receiver is down")
    args = parser.parse_args()
    print(f"webhook dispatch benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(f"metadata DB: {args.db}; {args.workers} sender threads; batches of {args.batch} events; "
          f"~{args.deliveries} deliveries per run; receiver: separate process, verifies every signature")
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, SECRET], stdout=subprocess.PIPE)
    postgres = None
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        if args.db == "postgresql":
            from tests.support.servers import PostgresServer
            postgres = PostgresServer().start()
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{'webhooks':>9} {'events':>7} {'deliveries':>11} {'seconds':>8} {'deliveries/s':>13}")
            for hooks in (1, 10, 100):
                url = postgres.new_database() if postgres else f"sqlite:///{tmp}/metadata-{hooks}.db"
                elapsed, delivered, _ = run(url, port, hooks, args.deliveries, args.batch, args.workers)
                events = delivered // hooks
                print(f"{hooks:>9} {events:>7} {delivered:>11} {elapsed:>8.2f} {delivered / elapsed:>13.0f}")
            url = postgres.new_database() if postgres else f"sqlite:///{tmp}/metadata-backlog.db"
            first, took, delivered = drain(url, port, args.backlog, args.batch, args.workers)
            print(f"backlog: {delivered} held deliveries sent in order {took:.1f} s after the receiver answered again "
                  f"(first after {first:.1f} s, the probe; then {delivered / max(took - first, 1e-9):.0f}/s)")
    finally:
        receiver.terminate()
        receiver.wait(10)
        if postgres:
            postgres.cleanup()
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
