"""The periods the bridge did not hear from HA and has not yet backfilled, kept on disk until it has.

A gap opens at the cursor (the last durable event) and ends where the new connection's live events take
over. Backfilling it can fail (HA without its history or logbook integration, a timeout, a lost
connection): the gap then stays here, survives restarts, and is retried in the background, while the
live connection keeps capturing. A gap older than BRIDGE_BACKFILL_MAX_HOURS can no longer be recovered
(HA keeps 10 days of history by default, but a backfill that large would flood the pipeline) and is
dropped with one error line naming its bounds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ingestor import jsoncodec
from ingestor.timeutil import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Gap:
    start: dt.datetime
    end: dt.datetime

    def doc(self) -> dict[str, str]:
        return {"start": format_timestamp(self.start), "end": format_timestamp(self.end)}


class Gaps:
    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / "gaps.json"
        self._lock = threading.Lock()
        self._gaps: list[Gap] = []
        try:
            self._gaps = sorted(Gap(parse_timestamp(g["start"]), parse_timestamp(g["end"]))
                                for g in jsoncodec.loads(self.path.read_bytes()))
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError):
            log.error("unreadable list of gaps to backfill; starting without it", extra={"file": str(self.path)})

    def pending(self) -> list[Gap]:
        with self._lock:
            return list(self._gaps)

    def add(self, start: dt.datetime, end: dt.datetime) -> Gap:
        """Record a gap (merged with any it overlaps) durably; returns the gap as recorded."""
        with self._lock:
            merged = Gap(start, max(start, end))
            kept = []
            for gap in self._gaps:
                if gap.start <= merged.end and merged.start <= gap.end:
                    merged = Gap(min(gap.start, merged.start), max(gap.end, merged.end))
                else:
                    kept.append(gap)
            self._gaps = sorted([*kept, merged])
            self._save()
            return merged

    def done(self, gap: Gap) -> None:
        with self._lock:
            if gap in self._gaps:
                self._gaps.remove(gap)
                self._save()

    def expire(self, oldest: dt.datetime) -> list[Gap]:
        """Drop gaps that ended before `oldest` (beyond recovery); returns them, each logged once."""
        with self._lock:
            lost = [g for g in self._gaps if g.end < oldest]
            if not lost:
                return []
            self._gaps = [g for g in self._gaps if g.end >= oldest]
            self._save()
        for gap in lost:
            log.error("a gap older than BRIDGE_BACKFILL_MAX_HOURS was never backfilled; its events are lost",
                      extra=gap.doc())
        return lost

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(jsoncodec.dumps([g.doc() for g in self._gaps]))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
