"""Recovery after a store outage: how soon writing resumes, and the backlog is written, once the database
answers again (tests.connector.storeoutage: stack.yml's write through the local runtime, on a PostgreSQL
server that is stopped and on a SQLite file another process locks, both for --outage seconds, while events
are published to ha.events.enriched at --rate a second).

    .venv/bin/python bench/store_outage_recovery.py [--outage 90] [--rate 20]
Figures are printed, never asserted. Shared machine: say what else ran.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

from webhook_dispatch import load, machine  # noqa: E402

from tests.connector import storeoutage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=90, help="seconds both stores are away")
    parser.add_argument("--rate", type=int, default=20, help="events published per second throughout")
    args = parser.parse_args()
    print(f"store outage recovery, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        found = storeoutage.run(Path(tmp), args.outage, args.rate)
    print(f"{found.published} events at {args.rate}/s, stores away {args.outage:g} s")
    print(f"{'store':>13} {'resumed after s':>16} {'backlog written after s':>24} {'events written':>15}")
    for store in found.stores.values():
        resumed, caught_up = store.resumed_after(), store.caught_up_after(found.published)
        print(f"{store.name:>13} {_s(resumed):>16} {_s(caught_up):>24} {store.written:>15}")
    print(f"after: {load()}")


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f}"


if __name__ == "__main__":
    main()
