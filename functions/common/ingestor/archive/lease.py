"""One archive job at a time, across processes and replicas: a lease in a NATS JetStream key-value bucket.

The holder writes {holder, since, action, progress, expires_at} with compare-and-set on the key's revision
and renews it every ARCHIVE_LEASE_S / 4. A holder killed -9 stops renewing, and its lease may be taken over
once `expires_at` has passed (again by compare-and-set, so two contenders never both win). A holder that
could not renew for 3/4 of ARCHIVE_LEASE_S stops before its next destructive step (`check`), before anyone
else can take over. Clocks of the replicas are assumed to agree within a few seconds (NTP).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import time
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError

from ingestor import bus as buses
from ingestor import config, jsoncodec
from ingestor.archive.errors import ArchiveError, Busy
from ingestor.archive.progress import Progress, iso
from ingestor.archive.settings import Settings
from ingestor.errors import Unavailable

log = logging.getLogger(__name__)
BUCKET = "ha_archive_lease"


def key_for(settings: Settings) -> str:
    """One lease per archive (bucket and prefix): the jobs of one archive exclude each other."""
    return "archive-" + hashlib.blake2b(f"{settings.bucket}/{settings.prefix}".encode(), digest_size=8).hexdigest()


async def _kv(js: JetStreamContext) -> Any:
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE))


def _holder() -> str:
    return f"{config.env_str('FUNCTION_NAME') or 'ingestor.archive'} on {socket.gethostname()} pid {os.getpid()}"


class Lease:
    def __init__(self, settings: Settings, progress: Progress, bus: buses.Bus) -> None:
        self.settings = settings
        self.progress = progress
        self.bus = bus
        self.key = key_for(settings)
        self.holder = _holder()
        self.since = iso(dt.datetime.now(dt.UTC))
        self._revision = 0
        self._renewed = 0.0  # monotonic time of the last successful write
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writing = threading.Lock()  # the heartbeat and a day's start renew from two threads

    def _value(self) -> bytes:
        return jsoncodec.dumps({"holder": self.holder, "since": self.since, "action": self.progress.action,
                                "expires_at": time.time() + self.settings.lease_s,
                                "progress": self.progress.snapshot()})

    def _call(self, fn: Any) -> Any:
        try:
            return self.bus.call(fn)
        except Unavailable as exc:  # NATS unreachable or not answering
            raise ArchiveError(f"the archive lease (NATS at {self.bus.url}, NATS_URL) is unavailable: "
                               f"{exc.message}") from None

    def acquire(self) -> Lease:
        """Take the lease, or raise Busy naming who holds it, since when, doing what."""
        value = self._value()

        async def take(js: JetStreamContext) -> tuple[int, dict[str, Any] | None]:
            kv = await _kv(js)
            for _ in range(3):  # the holder may release between our create and our read
                try:
                    return await kv.create(self.key, value), None
                except KeyWrongLastSequenceError:
                    pass
                try:
                    entry = await kv.get(self.key)
                    break
                except NotFoundError:
                    continue
            else:
                raise ArchiveError("the archive lease changes hands too fast to be taken; try again")
            held = jsoncodec.loads(entry.value) if entry.value else {}
            if float(held.get("expires_at") or 0) > time.time():
                return 0, held
            try:  # expired (its holder died): take over, unless someone else just did
                return await kv.update(self.key, value, last=entry.revision), None
            except KeyWrongLastSequenceError:
                return 0, jsoncodec.loads((await kv.get(self.key)).value)

        revision, held = self._call(take)
        if held is not None:
            progress = held.get("progress") or {}
            raise Busy(str(held.get("holder")), str(held.get("since")), str(held.get("action") or "a job"),
                       progress.get("day"))
        self._revision, self._renewed = revision, time.monotonic()
        self._thread = threading.Thread(target=self._beat, name="archive-lease", daemon=True)
        self._thread.start()
        self.progress.listeners.append(self._on_progress)
        return self

    def _on_progress(self, what: str, snapshot: dict[str, Any]) -> None:
        """A new day or a finished one is shown at once (status reads the lease), not at the next beat."""
        if what in ("start", "day") and not self._stop.is_set():
            self.renew()

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.lease_s / 4):
            self.renew()

    def renew(self) -> None:
        async def write(js: JetStreamContext) -> int | None:
            try:
                return await (await _kv(js)).update(self.key, self._value(), last=self._revision)
            except KeyWrongLastSequenceError:
                return None

        with self._writing:
            try:
                revision = self._call(write)
            except ArchiveError as exc:
                log.warning("could not renew the archive lease", extra={"error": str(exc)})
                return
            self._apply(revision)

    def _apply(self, revision: int | None) -> None:
        if revision is None:
            self._lost = "another job took the archive lease over"
            self._stop.set()
        else:
            self._revision, self._renewed = revision, time.monotonic()

    def check(self) -> None:
        """Raise unless the lease is surely still ours: called before every destructive step."""
        if self._lost:
            raise ArchiveError(f"stopped: {self._lost}")
        idle = time.monotonic() - self._renewed
        if idle > self.settings.lease_s * 0.75:
            raise ArchiveError(f"stopped: the archive lease was not renewed for {idle:.0f} s (NATS unreachable?)")

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._lost:
            return

        async def drop(js: JetStreamContext) -> None:
            with contextlib.suppress(KeyWrongLastSequenceError):
                await (await _kv(js)).delete(self.key, last=self._revision)

        try:
            with self._writing:
                self._call(drop)
        except ArchiveError as exc:  # it expires by itself
            log.warning("could not release the archive lease", extra={"error": str(exc)})

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(settings: Settings, bus: buses.Bus) -> dict[str, Any] | None:
    """The live lease's value (who, since, progress), or None when no job holds it."""
    async def read(js: JetStreamContext) -> dict[str, Any] | None:
        try:
            entry = await (await _kv(js)).get(key_for(settings))
        except NotFoundError:
            return None
        return jsoncodec.loads(entry.value) if entry.value else None

    try:
        found = bus.call(read)
    except Unavailable as exc:
        raise ArchiveError(f"NATS unavailable: {exc.message}") from None
    if not found or float(found.get("expires_at") or 0) <= time.time():
        return None
    return found
