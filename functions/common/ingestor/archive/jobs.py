"""The archive's jobs as the function and the CLI run them: each that changes anything (run, restore, recover)
holds the archive's lease for its whole length (archive.lease), so two never overlap on any replica or shell;
a dry run and the status only read.

Configuration is read and checked once (`Jobs.load`); the bucket is prepared then too (created when missing
and allowed), so a missing bucket or wrong credentials are reported at start, not at the first run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any

from ingestor import bus as buses
from ingestor import store as stores
from ingestor.archive import recover, restore, settings, status
from ingestor.archive.errors import ArchiveError
from ingestor.archive.lease import Lease, holder
from ingestor.archive.progress import Progress
from ingestor.archive.run import NOT_CONFIGURED, Archiver, Report
from ingestor.archive.s3 import Bucket
from ingestor.store.protocol import EventStore

log = logging.getLogger(__name__)
Listener = Callable[[str, dict[str, Any]], None]


class Jobs:
    def __init__(self, current: settings.Settings, store: EventStore, bus: buses.Bus) -> None:
        self.settings = current
        self.store = store
        self.bucket = Bucket(current)
        self.bus = bus
        self.bucket_problem: str | None = None

    @classmethod
    def load(cls) -> Jobs:
        """From the environment and secrets; ConfigError (naming the setting) when something is wrong."""
        current = settings.load()
        try:
            store = stores.open_event_store(stores.default_url(), write_cache_kib=settings.STORE_WRITE_CACHE_KIB)
        except ValueError as exc:
            raise settings.config.ConfigError(f"EVENT_STORE_URL: {exc}") from None
        url = settings.config.env_str("NATS_URL", "nats://127.0.0.1:4222") or "nats://127.0.0.1:4222"
        return cls(current, store, buses.Bus(url, name=settings.config.env_str("FUNCTION_NAME") or "ingestor.archive"))

    def prepare(self) -> str | None:
        """Create or check the bucket now; returns the problem (also shown by status until it is solved)."""
        if not self.settings.enabled:
            return None
        try:
            self.bucket.ensure()
            self.bucket_problem = None
        except ArchiveError as exc:
            self.bucket_problem = str(exc)
            log.error("archive bucket not usable", extra={"error": self.bucket_problem})
        return self.bucket_problem

    @contextlib.contextmanager
    def _leased(self, action: str, listeners: list[Listener]) -> Iterator[Archiver]:
        progress = Progress(action)
        progress.listeners.extend(listeners)
        with Lease(self.settings, progress, self.bus) as lease:
            yield Archiver(self.store, self.bucket, self.settings, progress, guard=lease.check)

    def run(self, dry_run: bool = False, listeners: list[Listener] | None = None,
            now: dt.datetime | None = None) -> tuple[Report, str | None]:
        """The run's report, and why its status could not be saved to the bucket (if so). Busy when another
        job holds the lease."""
        if dry_run or not self.settings.enabled:
            return Archiver(self.store, self.bucket, self.settings).run(now, dry_run=dry_run), None
        with self._leased("run", listeners or []) as archiver:
            report = archiver.run(now)
        return report, status.record(self.bucket, self.settings, report)

    def restore(self, first: dt.date, last: dt.date, listeners: list[Listener] | None = None) -> dict[str, Any]:
        restore.days(first, last)  # a bad range is refused before the lease is taken
        with self._leased("restore", listeners or []) as archiver:
            return restore.restore(archiver, first, last)

    def recover(self, day: dt.date, action: str, listeners: list[Listener] | None = None) -> dict[str, Any]:
        if action not in recover.ACTIONS:
            raise ValueError(f"action must be one of {', '.join(recover.ACTIONS)}, got {action!r}")
        if not self.settings.enabled:
            raise ArchiveError(NOT_CONFIGURED)
        with self._leased(f"recover ({action})", listeners or []) as archiver:
            return recover.recover(archiver, day, action)

    def status(self) -> dict[str, Any]:
        return status.status(self.bucket, self.settings, running=lambda: holder(self.settings, self.bus))

    def close(self) -> None:
        self.store.close()
        self.bus.close()
