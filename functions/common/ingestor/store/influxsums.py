"""The stay rollups of an hour or a day packed in one point: what the durations' items sum over a range.

The items sum the stay rollups (stays_1h, stays_1d) of a range's whole hours and days per (entity, state left).
Read as rollup points, InfluxDB opens a cursor per series and shard: ~1,000 series of a busy home, 130 ms for a
day's hours and 180-270 ms for a week's or a month's days at 10 million events, however few rows come back. Packed,
a range's hours or days are one series of a point each.

packed_sums_1h, packed_sums_1d: the hour's or day's stays_* points with durations (dn > 0), written by `write` with
them (influx.py `_merge_up`, from the rows it sums them from), for every hour and day a batch touched, empty ones
too: a point is keyed by its time, so a redelivered or late batch writes the bucket's pack again, whole, as it
writes its rollups again. A delete drops them with the rollups and sums the buckets it cuts again.

A point has no tags; fields `sums` (influxstays.compressed JSON: [[the series' tags (ROLLUP_TAGS order), state
left, dn, dsum, dmin, dmax], ...] sorted), `n` its entries, `part`, `parts`, `at` as the packed stays' (a text
longer than a part cut into parts, a pack taken only whole). A database written before them has no SUMS_READY
point: its items read stays_* until `python -m ingestor.store sums` packed them from its rollups (`rollups`,
which sums the rollups again, writes them too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingestor.store import influxstays as packs
from ingestor.store.model import EventFilter

FIELDS = '"part", "parts", "at", "n", "sums"'
LEVEL = 1  # an hour's is written again by every batch of the hour
Entry = list[Any]
"""[tags (ROLLUP_TAGS order), state left, dn, dsum, dmin, dmax]: one stays_* point's durations."""


def entry(tags: tuple[str, ...], state: str, c: dict[str, Any]) -> Entry:
    return [list(tags), state, int(c["dn"]), c.get("dsum"), c.get("dmin"), c.get("dmax")]


def lines(measurement: str, bucket_us: int, entries: list[Entry]) -> list[str]:
    """The points of a bucket's pack (a point with n=0 for one without durations: the bucket is known empty)."""
    ordered = sorted(entries, key=lambda e: (e[0], e[1]))
    return packs.pack_lines(measurement, bucket_us, packs.compressed(ordered, LEVEL), len(ordered), "sums")


def decoded(rows: Iterable[dict[str, Any]], width_us: int) -> dict[int, list[Entry]]:
    """Per bucket start µs: the entries of the buckets read whole (influxstays.whole)."""
    return {bucket: unpacked(texts) for bucket, texts in packs.whole(rows, width_us, "sums").items()}


def unpacked(texts: list[str]) -> list[Entry]:
    """The entries of a pack's parts' texts, in order."""
    return packs.uncompressed("".join(texts)) if any(texts) else []


_SERIES: dict[tuple[str, ...], list[str]] = {}  # a series' tags, one list for every pack kept (`kept`)
MOST_SERIES = 100_000  # then forgotten, and shared again from the next pack on


def kept(texts: list[str]) -> list[Entry]:
    """`unpacked`, each entry's tags the one list of its series that every pack kept across requests shares
    (influxpackcache.py): ~680 bytes an entry held (its tags' list and five strings each time) -> ~190, so a
    year's daily sums of a busy home take ~35 MB, not ~110. Nothing changes a pack's tags in place."""
    entries = unpacked(texts)
    if len(_SERIES) > MOST_SERIES:
        _SERIES.clear()
    for entry in entries:
        entry[0] = _SERIES.setdefault(tuple(entry[0]), entry[0])
    return entries


def add(groups: dict[tuple[str, str], list[Any]], entries: list[Entry], f: EventFilter) -> None:
    """The entries of `f`'s series into `groups`, per (entity, state left), as rollups.merge_state sums them into a
    rollups.new_state (written out: a year's ~20,000 entries cost 3x as much through those calls)."""
    wanted = packs.wanted(f)
    for tags, state, dn, dsum, dmin, dmax in entries:
        if not dn or (wanted and any(tags[i] != value for i, value in wanted)):
            continue
        acc = groups.get((tags[0], state))
        if acc is None:
            groups[(tags[0], state)] = [0, 0, dn, dsum, dmin, dmax, 0.0]
            continue
        acc[2] += dn
        acc[3] = dsum if acc[3] is None else acc[3] + dsum
        if acc[4] is None or dmin < acc[4]:
            acc[4] = dmin
        if acc[5] is None or dmax > acc[5]:
            acc[5] = dmax
