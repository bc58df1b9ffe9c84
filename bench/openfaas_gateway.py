"""OpenFaaS's real gateway in front of the local provider: deploy time and per-request overhead.

1. Deploy: all of stack.yml (13 functions) through the real gateway, as `faas-cli deploy` sends it (PUT,
   then POST on 404; tests/support/openfaas.py), one function after another, each answered once its
   process is ready: the total and each function's time (its cold start as a process, which dominates).
2. Overhead: the same request (GET /_/ready of the dashboard function) `--requests` times on each path,
   the paths taking turns in rounds of 50 so a busy machine weighs on all alike: the function's own port,
   the local gateway's forwarding (the provider's /function/, the code `make run`'s gateway runs), and the
   real gateway (host relay -> gateway -> relay -> provider -> function). p50/p99 in ms.

of-watchdog could not be built here (docs/deploy.md), so no figure includes it. Prints figures; asserts nothing.

    python bench/openfaas_gateway.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from bench.store_benchmark import machine, percentile  # noqa: E402
from localfaas import stack as stackfile  # noqa: E402
from tests.support.openfaas import SECRETS, OpenFaaSStack, unavailable  # noqa: E402

FUNCTIONS = list(stackfile.load(REPO / "stack.yml", {}).functions)
ROUND = 50


class Client:
    """One kept-alive connection, as a connector or a browser holds one."""

    def __init__(self, base: str, path: str) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.path = parts.path.rstrip("/") + path

    def once(self) -> float:
        started = time.perf_counter()
        self.conn.request("GET", self.path)
        response = self.conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-openfaas-") as tmp:
        stack = OpenFaaSStack(Path(tmp)).start()
        try:
            for name, value in SECRETS.items():
                stack.create_secret(name, value or stack.secret(name))
            times: dict[str, float] = {}
            started = time.perf_counter()
            for name in FUNCTIONS:
                t = time.perf_counter()
                reply = stack.deploy([name])[name]
                assert reply.status == 202, (name, reply.body)
                times[name] = time.perf_counter() - t
            total = time.perf_counter() - started
            print(f"\ndeploy of {len(times)} functions through the real gateway: {total:.1f} s "
                  f"(per function: min {min(times.values()):.2f} s, median {statistics.median(times.values()):.2f} s, "
                  f"max {max(times.values()):.2f} s)")
            print("| function | deploy until ready, s |\n|---|---|")
            for name, seconds in times.items():
                print(f"| {name} | {seconds:.2f} |")

            _, env = stack.process("dashboard")
            paths = {
                "function's own port": Client(f"http://127.0.0.1:{env['PORT']}", "/_/ready"),
                "local gateway forwarding": Client(stack.ready["provider"], "/function/dashboard/_/ready"),
                "real gateway": Client(stack.gateway, "/function/dashboard/_/ready"),
            }
            samples: dict[str, list[float]] = {name: [] for name in paths}
            for client in paths.values():  # warm-up
                for _ in range(20):
                    client.once()
            while len(samples["real gateway"]) < args.requests:
                for name, client in paths.items():
                    samples[name] += [client.once() for _ in range(ROUND)]
            print(f"\n{args.requests} GET /_/ready of dashboard per path, rounds of {ROUND} taking turns")
            print("| path | p50 ms | p99 ms |\n|---|---|---|")
            for name, values in samples.items():
                print(f"| {name} | {percentile(values, 50) * 1000:.2f} | {percentile(values, 99) * 1000:.2f} |")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
