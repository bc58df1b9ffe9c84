"""The recovery actions a quarantined day's record names (CLI `recover`, HTTP POST /recover).

- repair: the manifest is unreadable or wrong, the object may be fine. Every data object of the day in the
  bucket is downloaded and decoded whole; the one that reads back whole with the most rows becomes the day's
  object and gets a new manifest (rows, both sha256, times taken from it); others are set aside. Then, when
  the store holds rows of the day, they are archived and pruned as a run would (merged with that object).
- rebuild: the day is archived again from the store's rows; an archived object that fails verification is
  set aside (kept) and replaced, even when the store holds fewer rows than it did.
Either clears the day's quarantine when it succeeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import asdict
from typing import Any

from ingestor import jsoncodec
from ingestor.archive import dayfile, layout, quarantine, summaries
from ingestor.archive.digest import Digest
from ingestor.archive.errors import ArchiveError, VerificationError
from ingestor.archive.run import Archiver
from ingestor.store.model import EventFilter

ACTIONS = tuple(quarantine.ACTIONS)


def recover(archiver: Archiver, day: dt.date, action: str) -> dict[str, Any]:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    archiver.progress.plan(1)
    archiver.progress.start_day(day)
    out: dict[str, Any] = {"day": day.isoformat(), "action": action}
    start, end = summaries.day_bounds(day)
    stored = archiver.store.count(EventFilter(start=start, end=end))
    if action == "repair":
        out["repaired"] = repair_manifest(archiver, day)
    elif not stored:
        raise ArchiveError(f"the store holds no rows of {day}: nothing to rebuild from (try --action repair)")
    if stored:
        out["result"] = asdict(archiver.archive_day(day, rebuild=action == "rebuild"))
    quarantine.clear(archiver.bucket, archiver.settings.prefix, day)
    archiver.progress.end_day(out)
    return out


def repair_manifest(archiver: Archiver, day: dt.date) -> dict[str, Any]:
    """Write the day's manifest from the best object of the day that decodes whole; returns the manifest."""
    archiver.guard()
    prefix = archiver.settings.prefix
    candidates = [o for o in archiver.bucket.objects(layout.day_dir(prefix, day)) if layout.is_data(o["key"])]
    readable: list[tuple[dict[str, Any], dict[str, Any]]] = []
    problems: list[str] = []
    with dayfile.staging(archiver.settings.staging_dir) as staged:
        for found in candidates:
            try:
                readable.append((found, _inspect(archiver, day, found, staged)))
            except (ArchiveError, OSError) as exc:
                problems.append(f"{found['key']}: {exc}")
    if not readable:
        raise ArchiveError(f"no object of {day} reads back whole ({'; '.join(problems) or 'there is none'}): "
                           "rebuild from the store (--action rebuild) if it holds the day's rows")
    best, manifest = max(readable, key=lambda pair: (pair[1]["rows"], pair[0]["modified"]))
    body = jsoncodec.dumps(manifest)
    key = layout.manifest_key(prefix, day)
    archiver.bucket.put(key, body, "application/json")
    if archiver.bucket.get(key) != body:
        raise VerificationError(f"{key}: reads back different from what was written")
    now = dt.datetime.now(dt.UTC)
    for other in candidates:
        if other["key"] != best["key"]:
            archiver.bucket.move(other["key"], layout.aside_key(prefix, day, other["key"], now))
    return manifest


def _inspect(archiver: Archiver, day: dt.date, found: dict[str, Any], staged: str) -> dict[str, Any]:
    """The manifest an object deserves, from downloading and decoding it whole."""
    codec = next((c for c in dayfile.CODECS.values() if found["key"].endswith("." + c.EXTENSION)), None)
    if codec is None:
        raise ArchiveError("not a day object of a known format")
    path = os.path.join(staged, os.path.basename(found["key"]))
    sha = hashlib.sha256()
    with open(path, "wb") as file:
        def take(chunk: bytes) -> None:
            sha.update(chunk)
            file.write(chunk)

        size = archiver.bucket.download(found["key"], take)
    if size is None:
        raise ArchiveError("vanished")
    digest = Digest()
    for _ in codec.read(path, archiver.settings.export_batch, digest):
        pass
    day_start = day.isoformat()
    if digest.rows and not (str(digest.time_min).startswith(day_start) and str(digest.time_max).startswith(day_start)):
        raise VerificationError(f"its events are not of {day} ({digest.time_min} .. {digest.time_max})")
    file_ = dayfile.DayFile(day, codec, path, size, sha.hexdigest(), digest.sha256, digest.rows,
                            digest.time_min, digest.time_max)
    return dayfile.manifest(file_, found["key"], getattr(archiver.store, "backend", "?"))
