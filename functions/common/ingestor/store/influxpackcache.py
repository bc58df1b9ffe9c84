"""Decoded packs (packed stays and sums, influxstays.py, influxsums.py) kept across requests by the store.

A pack's `at` is a digest of its parts' texts, the same on all parts of one packing: the same (measurement,
bucket, at) is the same text, so the same decoded value. Decoding was most of a sample's and of the items' CPU
(zlib, JSON, the gaps summed: ~10 ms a day's stays, ~30 ms a month's sums), and a bucket changes rarely once
its hour or day is over. So a query's packs are read in two steps (`read`): their parts' part, parts, at and n
(no text), then the texts of the whole buckets not held, all sent at once, decoded and kept. The buckets at or
after the current one (the current hour: packed again by every batch) are read with their texts at once, in the
first step. A bucket not whole is left out, as influxstays.complete leaves it (the caller reads it as before);
packs without `at` or in plain JSON (written before `at` was a digest) are decoded and not kept.

Held values are shared by every request: their consumers only read them (matching, newest, merged, replaced,
influxsums.add, StayGroup.add copy what they change). The write path reads its packs uncached (influx.py
`_packs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ingestor.store import influxql as iql
from ingestor.store import influxstays as packs
from ingestor.store import influxsums as sums
from ingestor.store.influxrollups import SUMS
from ingestor.store.lru import SizedLRU

META = '"part", "parts", "at", "n"'
# Bytes a held value costs, measured with tracemalloc on the 10-million-event home (all its packs decoded): a
# stay ~75 (its time and duration), a group ~750 (its tags' list and strings), an entry of the sums ~250 (its
# series' tags shared with the other packs': influxsums.kept; ~680 each its own).
STAY_BYTES, GROUP_BYTES, ENTRY_BYTES = 75, 750, 250
# 64 MB: that home's durations at 1, 7, 30 and 365 days (its 38 days) held 119 packs, 26.6 MB with the sums' tags
# each their own: the sample's 6 days of stays (~1 MB a day) and the current day's hours (~0.17 MB an hour), 37
# days of sums (~0.3 MB a day, ~0.1 shared) and the ends' hours (~0.13 MB each, ~0.05). A full year of a busy home's
# daily sums is ~40 MB shared (~110 each their own).
CAP_BYTES = 64 << 20
MOST_SPLIT = 400  # buckets of a range read a day a statement at most (else in one)
MOST_RUNS = 8  # statements reading the texts of one range at most: more runs of missing buckets are read as one


def _stays_bytes(groups: list[packs.Group]) -> int:
    return STAY_BYTES * packs.count(groups) + GROUP_BYTES * len(groups)


def _sums_bytes(entries: list[sums.Entry]) -> int:
    return ENTRY_BYTES * len(entries)


@dataclass(frozen=True)
class Kind:
    """How a measurement's packs are read: its bucket's width, text field, decoding and cost held."""

    width: int
    field: str
    decode: Callable[[list[str]], Any]
    size: Callable[[Any], int]
    per_day: bool  # texts read a day a statement (a day's stays are ~0.4 MB InfluxDB handles on one core)


KINDS = {
    packs.HOUR: Kind(packs.HOUR_US, "stays", packs.unpacked, _stays_bytes, True),
    packs.DAY: Kind(packs.DAY_US, "stays", packs.unpacked, _stays_bytes, True),
    SUMS["1h"]: Kind(packs.HOUR_US, "sums", sums.kept, _sums_bytes, False),
    SUMS["1d"]: Kind(packs.DAY_US, "sums", sums.kept, _sums_bytes, False),
}


class PackCache(SizedLRU[tuple[str, int], Any]):
    """Decoded packs: key (measurement, bucket µs), version the pack's `at`, size an estimate of the bytes held
    (Kind.size), at most `cap` (CAP_BYTES). A bucket packed again has another `at`: its old value is not taken,
    and is replaced by the new one as soon as that is read."""

    def __init__(self, cap: int = CAP_BYTES) -> None:
        super().__init__(cap)

    def holds_any(self, measurement: str, lo: int, hi: int, width: int) -> bool:
        """Whether a bucket of `measurement` starting in [lo, hi) is held (at any `at`): how `_first` reads the
        range. Each bucket looked up, unless there are more than values held: then each value's key looked at."""
        if (hi - lo) // width > len(self):
            return any(m == measurement and lo <= b < hi for m, b in self.kept())
        return self.any_kept((measurement, b) for b in range(-(-lo // width) * width, hi, width))


@dataclass(frozen=True)
class Want:
    """A range [lo, hi) µs of a measurement's packs; `meta`: its parts' rows without text, when already read."""

    measurement: str
    lo: int
    hi: int
    meta: list[dict[str, Any]] | None = None


Found = tuple[dict[int, Any], set[int]]
"""The decoded packs read whole, by bucket start µs, and every bucket holding a point."""
Select = Callable[[list[str]], list[list[dict[str, Any]]]]


def statement(measurement: str, fields: str, lo: int, hi: int) -> str:
    return (f"SELECT {fields} FROM {iql.identifier(measurement)} "
            f"WHERE time >= {lo * 1000} AND time < {hi * 1000}")


def read(cache: PackCache, select_all: Select, wants: list[Want], rows_of: Callable[[list[dict[str, Any]]],
         list[dict[str, Any]]], now_us: int | None = None) -> list[Found]:
    """Each want's packs: held ones from `cache`, the rest read (two requests at most, their statements sent at
    once: `select_all`; `rows_of`: a statement's series as rows). A range of which nothing is held (the first
    call) is read with its texts at once, in one request, as the current bucket is."""
    first = [(i, *step) for i, w in enumerate(wants) for step in _first(cache, w, now_us)]
    metas: list[list[dict[str, Any]]] = [list(w.meta or []) for w in wants]
    texts: list[list[dict[str, Any]]] = [[] for _ in wants]
    for (i, with_texts, _), series in zip(first, select_all([q for _, _, q in first]), strict=True):
        (texts if with_texts else metas)[i].extend(rows_of(series))
    found = [_held(cache, w, rows) for w, rows in zip(wants, metas, strict=True)]
    second = [(i, q) for i, w in enumerate(wants) for q in _text_statements(w, _runs(KINDS[w.measurement],
                                                                                        found[i][1]))]
    for (i, _), series in zip(second, select_all([q for _, q in second]), strict=True):
        texts[i].extend(rows_of(series))
    return [_found(cache, w, metas[i] + texts[i], held, texts[i]) for i, (w, (held, _)) in enumerate(
        zip(wants, found, strict=True))]


def _first(cache: PackCache, w: Want, now_us: int | None) -> list[tuple[bool, str]]:
    """(with texts, statement) of `w`'s first request: its parts without text up to the current bucket, unless
    read already or nothing of them is held; the rest with their texts."""
    kind = KINDS[w.measurement]
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    hot = min(max(now_us // kind.width * kind.width, w.lo), w.hi) if w.meta is None else w.hi
    if w.lo < hot and w.meta is None and not cache.holds_any(w.measurement, w.lo, hot, kind.width):
        hot = w.lo
    first = [(False, statement(w.measurement, META, w.lo, hot))] if w.meta is None and w.lo < hot else []
    return first + [(True, q) for q in _text_statements(w, _all_runs(kind, hot, w.hi))]


def _held(cache: PackCache, w: Want, meta: list[dict[str, Any]]) -> tuple[dict[int, Any], list[int]]:
    """The whole buckets of `meta` held (same `at`), and those whole but not held."""
    held, missing = {}, []
    for bucket, parts in packs.complete(meta, KINDS[w.measurement].width).items():
        at = parts[0].get("at")
        value = cache.get((w.measurement, bucket), at) if at is not None else None
        if value is None:
            missing.append(bucket)
        else:
            held[bucket] = value
    return held, sorted(missing)


def _runs(kind: Kind, buckets: Iterable[int]) -> list[tuple[int, int]]:
    """[start, end) µs of the runs of adjacent `buckets` (in order), cut at days for the stays, at most
    MOST_RUNS (else one from the first to the last)."""
    runs: list[list[int]] = []
    for bucket in buckets:
        if runs and runs[-1][1] == bucket and not (kind.per_day and bucket % packs.DAY_US == 0):
            runs[-1][1] = bucket + kind.width
        else:
            runs.append([bucket, bucket + kind.width])
    if len(runs) > MOST_RUNS and not kind.per_day:
        runs = [[runs[0][0], runs[-1][1]]]
    return [(a, b) for a, b in runs]


def _all_runs(kind: Kind, lo: int, hi: int) -> list[tuple[int, int]]:
    """The runs of every bucket of [lo, hi) (`_runs`); one when it holds more than MOST_SPLIT buckets (a range
    without a start)."""
    if hi <= lo:
        return []
    if (hi - lo) // kind.width > MOST_SPLIT:
        return [(lo, hi)]
    return _runs(kind, range(lo // kind.width * kind.width, hi, kind.width))


def _text_statements(w: Want, runs: list[tuple[int, int]]) -> list[str]:
    """The statements reading the texts of `runs` of buckets within `w`'s range."""
    fields = f"{META}, {iql.identifier(KINDS[w.measurement].field)}"
    return [statement(w.measurement, fields, max(a, w.lo), min(b, w.hi)) for a, b in runs]


def _found(cache: PackCache, w: Want, rows: list[dict[str, Any]], held: dict[int, Any],
           texts: list[dict[str, Any]]) -> Found:
    """The held packs with those read from `texts` decoded (and kept when they carry an `at`)."""
    kind = KINDS[w.measurement]
    out = dict(held)
    for bucket, parts in packs.complete(texts, kind.width).items():
        read = packs.texts(parts, kind.field)
        value = out[bucket] = kind.decode(read)
        at = parts[0].get("at")
        if at is not None and not packs.plain(read):  # a plain pack's `at` was the time it was made
            cache.put((w.measurement, bucket), at, value, kind.size(value))
    present = {int(c["time"]) // kind.width * kind.width for c in rows}
    return out, present
