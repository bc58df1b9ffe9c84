"""The archive from a shell, with the function's configuration (env + secrets) and the same lease:

    python -m ingestor.archive run [--dry-run]
    python -m ingestor.archive restore --from 2025-01-01 [--to 2025-01-31]
    python -m ingestor.archive recover 2025-01-07 --action repair|rebuild
    python -m ingestor.archive status

(PYTHONPATH=functions/common; EVENT_STORE_URL, NATS_URL, ARCHIVE_S3_* and the secrets as for the function.)
Progress goes to stderr: one line per day, and on a terminal the events of the current day as they pass.
The result is JSON on stdout; exit 1 when the job failed or another holds the lease, 2 on a configuration
error (named).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any, TextIO

from ingestor import jsoncodec
from ingestor.archive.errors import ArchiveError
from ingestor.archive.jobs import Jobs
from ingestor.archive.recover import ACTIONS
from ingestor.config import ConfigError
from ingestor.store.model import StoreError


class Display:
    """Progress on a terminal (the current day's events, redrawn twice a second) and one line per day."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._drawn = 0.0

    def __call__(self, what: str, snap: dict[str, Any]) -> None:
        done, total = snap["days_done"], snap["days_total"]
        if what == "events" and self.live and time.monotonic() - self._drawn > 0.5:
            self._drawn = time.monotonic()
            self.stream.write(f"\r{snap['action']} {snap['day']} ({done + 1}/{total}): "
                              f"{snap['day_events']:,} events …")
            self.stream.flush()
        elif what == "day":
            r = snap["result"]
            rows = r.get("rows", 0) or 0
            size = f", {r['bytes'] / 1e6:.1f} MB" if r.get("bytes") else ""
            took = f", {r['seconds']:.1f} s" if r.get("seconds") else ""
            error = f": {r['error']}" if r.get("error") else ""
            self.stream.write(f"{chr(13) if self.live else ''}{snap['action']} {r.get('day')} ({done}/{total}): "
                              f"{r.get('outcome') or 'done'}, {rows:,} events{size}{took}{error}\n")
            self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestor.archive")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="archive, verify and prune the days older than RAW_RETENTION_DAYS")
    run.add_argument("--dry-run", action="store_true", help="print the plan only")
    back = commands.add_parser("restore", help="read archived days back into the event store")
    back.add_argument("--from", dest="first", required=True, type=dt.date.fromisoformat)
    back.add_argument("--to", dest="last", type=dt.date.fromisoformat)
    fix = commands.add_parser("recover", help="resolve a quarantined day (its status names the action)")
    fix.add_argument("day", type=dt.date.fromisoformat)
    fix.add_argument("--action", required=True, choices=ACTIONS)
    commands.add_parser("status", help="archived days, objects, bytes, running job, quarantine, last and next run")
    args = parser.parse_args(argv)

    try:
        jobs = Jobs.load()
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return 2
    display = [Display(sys.stderr)]
    try:
        problem = jobs.prepare() if args.command != "status" else None
        if problem:
            output, ok = {"error": problem}, False
        elif args.command == "run":
            report, unsaved = jobs.run(dry_run=args.dry_run, listeners=display)
            output, ok = report.as_dict(), report.ok
            if unsaved:
                output["status_not_saved"] = unsaved
        elif args.command == "restore":
            output = jobs.restore(args.first, args.last or args.first, listeners=display)
            ok = output["ok"]
        elif args.command == "recover":
            output, ok = jobs.recover(args.day, args.action, listeners=display), True
        else:
            output, ok = jobs.status(), True
    except (ArchiveError, StoreError, ValueError) as exc:
        output, ok = {"error": str(exc)}, False
    finally:
        jobs.close()
    if not ok and output.get("error"):
        sys.stderr.write(f"failed: {output['error']}\n")
    sys.stdout.write(jsoncodec.dumps(output).decode() + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
