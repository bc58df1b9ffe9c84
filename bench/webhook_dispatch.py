"""Webhook dispatch throughput: deliveries/s to a local receiver with 1, 10 and 100 registered webhooks.

Every webhook matches every event (`event_types: ["*"]`), so each event makes one delivery per webhook.
The dispatch logic runs in process exactly as webhook-dispatch runs it per batch (match, record each
delivery in the metadata DB, sign, POST through the pooled session and thread pool, record the result);
the receiver is a separate process on 127.0.0.1 (ThreadingHTTPServer, HTTP/1.1 keep-alive) that
verifies every signature and counts. The timed span is the sum of `dispatch(batch)` calls; the receiver's
count is checked against the deliveries reported. Prints figures; asserts nothing about time.

    python bench/webhook_dispatch.py [--deliveries 5000] [--batch 100] [--db sqlite|postgresql] [--workers 16]
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
                counts["ok" if ok else "bad"] += 1
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            with lock:
                text = f"{counts['ok']} {counts['bad']}".encode()
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


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, load average {load}"


def run(db_url: str, port: int, hooks: int, deliveries: int, batch: int, workers: int) -> tuple[float, int, int]:
    store = WebhookStore(db_url)
    for i in range(hooks):
        store.create(f"bench-{i}", f"http://127.0.0.1:{port}/hook/{i}", SECRET, {"event_types": ["*"]}, True)
    dispatcher = Dispatcher(store, Settings(allow_private=True, workers=workers, sweep_s=0, inline_budget_s=600,
                                            pause_after=1_000_000))
    events = [ha_record(f"sensor.bench_{i % 50}", state=str(i), salt=f"{hooks}-{i}")
              for i in range(max(deliveries // hooks, 1))]
    dispatcher.dispatch(events[:1])  # warm-up: schema, connections
    urllib.request.urlopen(f"http://127.0.0.1:{port}/count").read()
    delivered = 0
    elapsed = 0.0
    for start in range(1, len(events), batch):
        began = time.perf_counter()
        summary = dispatcher.dispatch(events[start:start + batch])
        elapsed += time.perf_counter() - began
        delivered += summary.delivered
    ok, bad = map(int, urllib.request.urlopen(f"http://127.0.0.1:{port}/count").read().split())
    dispatcher.stop()
    store.engine.dispose()
    if ok != delivered or bad:
        print(f"  !! receiver counted {ok} verified, {bad} unverified; dispatch reported {delivered}")
    return elapsed, delivered, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000, help="deliveries per run (events = this / webhooks)")
    parser.add_argument("--batch", type=int, default=100, help="events per dispatched batch")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=16)
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
    finally:
        receiver.terminate()
        receiver.wait(10)
        if postgres:
            postgres.cleanup()
    print(f"after: load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
