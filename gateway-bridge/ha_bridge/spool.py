"""A bounded on-disk FIFO of batches, for while NATS is unreachable; replayed in order when it returns.

One file per batch, named by a sequence number, written to a temporary name, fsynced and renamed:
a crash leaves either the whole batch or nothing, and a restart finds the queue as it was. Batches
that failed in memory go back in front of the queue (lower sequence numbers), so order holds.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ha_bridge.batcher import Batch
from ingestor import jsoncodec
from ingestor.timeutil import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

SUFFIX = ".batch"
ORIGIN = 10**15  # first sequence number: room below it for batches pushed back in front
WIDTH = 17


@dataclass(frozen=True)
class Entry:
    seq: int
    path: Path
    size: int


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = Path(directory) / "spool"
        self.max_bytes = max_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._bytes = 0
        self._recover()

    def _recover(self) -> None:
        for stale in self.dir.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        entries = []
        for path in self.dir.glob(f"*{SUFFIX}"):
            try:
                entries.append(Entry(int(path.stem), path, path.stat().st_size))
            except (ValueError, OSError):
                log.error("ignoring a stray file in the spool", extra={"file": path.name})
        self._entries = sorted(entries, key=lambda e: e.seq)
        self._bytes = sum(e.size for e in self._entries)
        if self._entries:
            log.info("spool holds batches from before the restart",
                     extra={"batches": len(self._entries), "bytes": self._bytes})

    @property
    def depth(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def full(self) -> bool:
        return self._bytes >= self.max_bytes

    def _write(self, seq: int, batch: Batch) -> Entry:
        header = {"subject": batch.subject, "batch_id": batch.batch_id, "count": batch.count,
                  "cursor": format_timestamp(batch.cursor) if batch.cursor else None}
        path = self.dir / f"{seq:0{WIDTH}d}{SUFFIX}"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(jsoncodec.dumps(header) + b"\n")
            f.write(batch.payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return Entry(seq, path, path.stat().st_size)

    def append(self, batch: Batch) -> None:
        with self._lock:
            seq = self._entries[-1].seq + 1 if self._entries else ORIGIN
            entry = self._write(seq, batch)
            self._entries.append(entry)
            self._bytes += entry.size

    def push_front(self, batches: list[Batch]) -> None:
        """Put `batches` (oldest first) before everything already spooled."""
        with self._lock:
            first = self._entries[0].seq if self._entries else ORIGIN + len(batches)
            written = [self._write(first - len(batches) + i, b) for i, b in enumerate(batches)]
            self._entries[:0] = written
            self._bytes += sum(e.size for e in written)

    def peek(self) -> Batch | None:
        """The oldest batch, or None when empty."""
        with self._lock:
            if not self._entries:
                return None
            entry = self._entries[0]
        data = entry.path.read_bytes()
        head, _, payload = data.partition(b"\n")
        header = jsoncodec.loads(head)
        cursor = parse_timestamp(header["cursor"]) if header.get("cursor") else None
        return Batch(header["subject"], header["batch_id"], payload, int(header["count"]), cursor)

    def pop(self) -> None:
        """Remove the oldest batch (after it was published)."""
        with self._lock:
            entry = self._entries.pop(0)
            self._bytes -= entry.size
        entry.path.unlink(missing_ok=True)

    def drop_corrupt_head(self) -> None:
        """Move an unreadable oldest file aside so it cannot block the queue forever."""
        with self._lock:
            entry = self._entries.pop(0)
            self._bytes -= entry.size
        aside = self.dir.parent / "spool-corrupt"
        aside.mkdir(exist_ok=True)
        os.replace(entry.path, aside / entry.path.name)
        log.error("moved an unreadable spool file aside", extra={"file": str(aside / entry.path.name)})
