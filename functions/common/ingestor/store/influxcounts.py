"""Every series' event count of an hour or a day packed in one point: what a count over every series sums.

The stats summary counts a range's events per domain, event type, entity and area: summed from rollup_1d over its
whole days and rollup_1h over its whole hours, grouped by the events' tags, InfluxDB opens a cursor per series
(~540 in a busy home) and shard however few points come back (29 days of rollup_1d: ~110 ms at 10 million
events). Packed, a range's days or hours are one series of a point each, decoded and summed here.

packed_counts_1h, packed_counts_1d: the hour's or day's rollup_* n per series, written by `write` from the rows it
sums those rollups from (influx.py `_merge_up`, no read of its own), for every hour and day a batch touched, empty
ones too: a redelivered or late batch writes the bucket's pack again, whole, as it writes its rollups again. A
delete drops them with the rollups and packs the buckets it cuts again.

A point has no tags; its fields are influxsums.py's (the same helpers write and read them): `sums` (the pack,
influxstays.compressed JSON [[the series' key, n], ...] sorted), `n` its entries, `part`,
`parts` and `at` (a pack taken only whole: one with a part missing, a write cut short, is read from rollup_*). A
database written before them has no COUNTS_READY point and reads rollup_* until `python -m ingestor.store counts`
packed them from its rollups (`rollups`, which sums the rollups again, writes them too).

A series' key is the JSON text of its tags (ROLLUP_TAGS order), one string: a read sums each series' n over its
packs by that text and decodes the tags once per series, not per pack. A year's ~28,000 entries (47 packs of
~600) with their tags as lists cost ~85 ms of CPU to decode and group (orjson making ~170,000 strings).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ingestor import jsoncodec
from ingestor.store import influxstays as packs
from ingestor.store import influxsums as sums
from ingestor.store import rollups as ru
from ingestor.store.influxrollups import ROLLUP_TAGS
from ingestor.store.model import EventFilter

FIELDS = sums.FIELDS
Entry = list[Any]
"""[series key (`key`), n]: one rollup_* point's count."""
Row = tuple[int, tuple[str, ...], int]
"""(bucket start µs, a series' tags in ROLLUP_TAGS order, n): a rollup's count as `_merge_up` sums it."""
Groups = dict[tuple[tuple[str | None, ...], int | None], list[Any]]
"""influx.py `_grouped`'s answer: per (the grouped tags' values, None), [n, vn, vsum, vmin, vmax, newest µs]."""


def answers(f: EventFilter) -> bool:
    """Whether packs answer counts of `f`: time and filters on tags many series share (a domain, area or event type).
    An entity's or device's few series are cheaper read from their own rollups, by InfluxDB's index."""
    return dataclasses.replace(f, start=None, end=None, domain=None, area_id=None, event_type=None) == EventFilter()


def key(tags: tuple[str, ...]) -> str:
    """A series' key: the JSON of its tags (ROLLUP_TAGS order)."""
    return jsoncodec.dumps(list(tags)).decode()


def lines(measurement: str, lo: int, hi: int, width_us: int, rows: Iterable[Row]) -> list[str]:
    """The packs of every bucket of `width_us` in [lo, hi) µs, empty ones too (the bucket is known empty)."""
    found: dict[int, list[Entry]] = {at: [] for at in range(lo, hi, width_us)}
    for at, tags, n in rows:
        if at in found:  # a bucket of the window (what InfluxDB's GROUP BY time answers)
            found[at].append([key(tags), n])
    return [line for at, entries in found.items() for line in sums.lines(measurement, at, entries)]


def per_series(rows: list[dict[str, Any]], width_us: int) -> dict[str, int] | None:
    """Each series' n summed over the packs read (`rows`); None when one is not whole (a write cut short)."""
    found = sums.decoded(rows, width_us)
    if {int(c["time"]) // width_us * width_us for c in rows} - found.keys():
        return None
    out: dict[str, int] = {}
    for entries in found.values():
        for series, n in entries:
            out[series] = out.get(series, 0) + n
    return out


def add(out: Groups, totals: dict[str, int], f: EventFilter, groups: tuple[str, ...]) -> None:
    """The counts of `f`'s series into `out`, per the `groups` tags' values (an empty tag as None), as rows of
    rollup_* grouped by those tags are merged (influx.py `_merge_into`)."""
    at = [ROLLUP_TAGS.index("type" if g == "event_type" else g) for g in groups]
    wanted = packs.wanted(f)
    for series, n in totals.items():
        tags = jsoncodec.loads(series)
        if wanted and any(tags[i] != value for i, value in wanted):
            continue
        group = (tuple(tags[i] or None for i in at), None)
        acc = out.get(group)
        if acc is None:
            acc = out[group] = ru.new_value()
        acc[0] += n
