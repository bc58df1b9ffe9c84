"""The archive from a shell, with the function's configuration (env + secrets):

    python -m ingestor.archive run [--dry-run]
    python -m ingestor.archive restore --from 2025-01-01 [--to 2025-01-31]
    python -m ingestor.archive status

(PYTHONPATH=functions/common; EVENT_STORE_URL, ARCHIVE_S3_* and the secrets as for the function.)
Prints JSON; exits 1 when the run or restore failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from ingestor import jsoncodec, store
from ingestor.archive import restore, settings, status
from ingestor.archive.errors import ArchiveError
from ingestor.archive.run import Archiver
from ingestor.archive.s3 import Bucket
from ingestor.store.model import StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestor.archive")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="archive, verify and prune the days older than RAW_RETENTION_DAYS")
    run.add_argument("--dry-run", action="store_true", help="print the plan only")
    back = commands.add_parser("restore", help="read archived days back into the event store")
    back.add_argument("--from", dest="first", required=True, type=dt.date.fromisoformat)
    back.add_argument("--to", dest="last", type=dt.date.fromisoformat)
    commands.add_parser("status", help="archived days, objects, bytes, last and next run")
    args = parser.parse_args(argv)

    current = settings.load()
    bucket = Bucket(current)
    events = store.open_event_store(store.default_url())
    try:
        archiver = Archiver(events, bucket, current)
        if args.command == "run":
            report = archiver.run(dry_run=args.dry_run)
            if not args.dry_run and not report.skipped:
                status.record(bucket, current, report)
            output, ok = report.as_dict(), report.ok
        elif args.command == "restore":
            try:
                output, ok = restore.restore(archiver, args.first, args.last or args.first), True
            except (ArchiveError, StoreError, ValueError) as exc:
                output, ok = {"error": str(exc)}, False
        else:
            output, ok = status.status(bucket, current), True
    finally:
        events.close()
    sys.stdout.write(jsoncodec.dumps(output).decode() + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
