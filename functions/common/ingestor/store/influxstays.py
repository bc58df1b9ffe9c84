"""The stays packed on InfluxDB: every stay of an hour in one point, and of a day that is over in one point.

The duration anomalies sample the newest 50,000 stays (events leaving a state the stays keep, with a
duration_in_state >= 0). Read as raw points, InfluxDB opens a cursor per series and field over every shard the
read touches: 0.6-3 s at 1-365 days on 10 million events, where a busy home's 50,000 newest stays lie within
four or five days. Packed, a day of them is one point (a few parts) of one series: the SQL stores keep a cold
day's stays apart for the same reason (store/coldstays.py).

packed_stays_1h: the stays of one hour, written by `write` for every hour a batch touches, read again from the
raw points after the batch's were written (as the 5-minute rollups are summed again, influxrollups.py): a
redelivered batch packs the same hour again. packed_stays_1d: a day's hours merged, once the day is over (by the
first batch of a new day, and by any batch of events of a past day, a late or redelivered one), so a past day
is one point to read. A day without its day point (no write since it ended) is read from its hours.

A point has no tags; fields: `stays` (the pack: JSON [[the series' tags (ROLLUP_TAGS order), state left, times
µs, durations s], ...], each group in time order, its times written as the first and then the gaps from one to
the next, zlib-compressed and in base64), `n` its stays, and `part`, `parts`, `at`: a pack's text
longer than PART_CHARS is cut into parts written at its bucket's time + part µs (`n` on the first), each carrying
the packing's `at` (a digest of the whole pack's text), so a read takes a pack only with all its parts of one
packing (else it reads the finer tier or raw points, as for a store written before: no PACKED_READY point,
influxrollups.py). A digest, not the time of packing: the same stays packed again (a redelivered batch, a
restored archive day) give the same points.

Compressed because InfluxDB's cost of a pack grows with its text: a busy home's day was ~0.6 MB of JSON (half of
it event ids, escaped again in InfluxDB's own JSON answer), 50-115 ms to read at 10 million events; compressed,
~0.38 MB of base64, which InfluxDB passes on as it is. Without event ids: random hex that does not compress was
~64 % of it (a day ~0.14 MB, 3 parts instead of 8-14), while an answer names at most 100 of the 50,000 stays.
A stay's id is looked up when asked for (`Ids`), from its raw point by its series' tags and exact time (one
point: a series holds one point at an instant), the ids an answer names in a few requests sent at once. A raw
point goes only with its pack (a delete drops the packs of the buckets it touches and packs what is left;
InfluxDB's retention drops a bucket's pack, at its start, no later than its points): a point found gone was
deleted after the pack was read, and the read fails as unavailable (asked again, it reads the packs as they are
now).

Packs written before are read as they are until their bucket is packed again (`python -m ingestor.store stays`
packs every day again): plain JSON, each part whole (its text begins with "[", which base64 never holds), and
compressed with the event ids as a fifth list in each group (left unread: the raw point says the same).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from ingestor import jsoncodec
from ingestor.store import influxql as iql
from ingestor.store import influxreads as reads
from ingestor.store.influxrollups import PACKED, ROLLUP_TAGS, tag_key
from ingestor.store.lineprotocol import _string
from ingestor.store.model import EventFilter, StoreUnavailable
from ingestor.store.rollups import categorical

HOUR, DAY = PACKED["1h"], PACKED["1d"]
HOUR_US, DAY_US = 3_600_000_000, 86_400_000_000
PART_CHARS = 48_000  # InfluxDB 1.x documents 64 KB as a string field's limit
# zlib's level per measurement: an hour's pack is written again by every batch of the hour, a day's once a day
# and read by every sample (level 6: ~12% shorter than 1, ~6x the time to compress).
LEVELS = {HOUR: 1, DAY: 6}
FIELDS = '"part", "parts", "at", "n", "stays"'
# The filters a pack answers (its groups' tags), by position in ROLLUP_TAGS.
_TAG_FILTERS = tuple((name, ROLLUP_TAGS.index("type" if name == "event_type" else name))
                     for name in ("entity_id", "domain", "event_type", "area_id", "device_id"))

Group = list[Any]
"""[tags (list, ROLLUP_TAGS order), state left, times µs, durations s]: one series' stays leaving one state, in
time order."""
Key = tuple[tuple[str, ...], int]
"""A stay's raw point: its series' tags (ROLLUP_TAGS order) and time µs."""
LOOKUPS = 500  # statements in one request of `Ids.fetch`, at most
# At least this many to a request: InfluxDB runs a request's statements one after the other (~0.5 ms each), and
# an answer's 100 ids took 29 ms in one request; in READERS requests at once about a third of that.
FEWEST_LOOKUPS = 20


def packable(f: EventFilter) -> bool:
    """Whether packs answer `f`: filters on the series' tags and time alone."""
    return not f.text and f.state is None and f.old_state is None


def unfiltered(f: EventFilter) -> bool:
    """Whether `f` takes every series' stays (a pack's counts are then those of `f`)."""
    return all(getattr(f, name) is None for name, _ in _TAG_FILTERS)


def is_stay(old_state: str | None, duration: float | None) -> bool:
    """What a read of stays keeps (influx.py: duration_in_state >= 0, an old state the stays keep)."""
    return bool(old_state) and duration is not None and duration >= 0 and categorical(old_state)


def from_raw(rows: Iterable[tuple[dict[str, str], dict[str, Any]]]) -> list[Group]:
    """The groups of raw stay rows ((series tags, columns) of a read in time order, as influx.py selects them:
    duration_in_state >= 0, and only old states the stays keep)."""
    groups: dict[tuple[tuple[str, ...], str], Group] = {}
    for tags, c in rows:
        key = (tag_key(tags), c["old_state"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = [list(key[0]), key[1], [], []]
        group[2].append(int(c["time"]))
        group[3].append(float(c["duration_in_state"]))
    return list(groups.values())


def merged(packs: list[list[Group]]) -> list[Group]:
    """One pack of several (oldest first, of disjoint times): a series' stays leaving a state in one group."""
    groups: dict[tuple[tuple[str, ...], str], Group] = {}
    for pack in packs:
        for tags, left, times, durations in pack:
            key = (tuple(tags), left)
            group = groups.get(key)
            if group is None:
                groups[key] = [tags, left, list(times), list(durations)]
            else:
                group[2] += times
                group[3] += durations
    return list(groups.values())


def replaced(old: list[Group], fresh: list[Group], windows: list[tuple[int, int]], lo: int,
             hi: int) -> list[Group]:
    """The pack of [lo, hi) from `old` with its stays in `windows` replaced by those of `fresh` there."""
    def inside(t: int) -> bool:
        return any(a <= t < b for a, b in windows)

    found: dict[tuple[tuple[str, ...], str], list[tuple[int, float]]] = {}
    for groups, keep in ((old, lambda t: not inside(t)), (fresh, lambda t: lo <= t < hi and inside(t))):
        for tags, left, times, durations in groups:
            stays = [s for s in zip(times, durations, strict=True) if keep(s[0])]
            if stays:
                found.setdefault((tuple(tags), left), []).extend(stays)
    out = []
    for (tags, left), stays in found.items():
        stays.sort(key=lambda s: s[0])  # one series: one stay at an instant
        out.append([list(tags), left, [s[0] for s in stays], [s[1] for s in stays]])
    return out


def lines(measurement: str, bucket_us: int, groups: list[Group]) -> list[str]:
    """The points of a bucket's pack (a point with n=0 for one without stays: the bucket is known empty)."""
    return pack_lines(measurement, bucket_us, encoded(groups, LEVELS.get(measurement, 1)), count(groups), "stays")


def pack_lines(measurement: str, bucket_us: int, text: str, n: int, field: str) -> list[str]:
    """A bucket's pack `text` in `field` of its points: cut into parts of PART_CHARS, `n` on the first."""
    parts = [text[i:i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
    at = _digest(parts)
    return [f"{measurement} part={i}i,parts={len(parts)}i,at={at}i,n={n if i == 0 else 0}i,"
            f"{field}={_string(part)} {bucket_us + i}" for i, part in enumerate(parts)]


def blanks(measurement: str, bucket_us: int, first: int, end: int) -> list[str]:
    """Parts [first, end) of a bucket emptied (those a longer pack written before left): no packing's part."""
    return [f'{measurement} part={i}i,parts=0i,at=0i,n=0i,stays="" {bucket_us + i}' for i in range(first, end)]


def _digest(parts: Iterable[str]) -> int:
    """A pack's identity: 63 bits of a hash of its parts' texts (an InfluxDB integer field is signed 64 bits)."""
    h = hashlib.blake2b(digest_size=8)
    for text in parts:
        h.update(text.encode())
        h.update(b"\0")
    return int.from_bytes(h.digest(), "big") >> 1


def compressed(value: Any, level: int) -> str:
    return base64.b64encode(zlib.compress(jsoncodec.dumps(value), level)).decode()


def uncompressed(text: str) -> Any:
    return jsoncodec.loads(zlib.decompress(base64.b64decode(text)))


def encoded(groups: list[Group], level: int) -> str:
    """The pack's text: its groups' JSON, times as gaps (shorter, and alike enough to compress), compressed."""
    return compressed([[tags, left, [t - p for t, p in zip(times, [0, *times], strict=False)], durations]
                       for tags, left, times, durations in groups], level)


def plain(texts: list[str]) -> bool:
    """Whether a pack's parts are plain JSON, as written before compression (and before `at` was a digest)."""
    return bool(texts) and texts[0].startswith("[")


def unpacked(texts: list[str]) -> list[Group]:
    """The groups of a pack's parts' texts, in order: compressed (`encoded`), or as packs were written before
    (plain JSON per part; compressed with event ids: a fifth list, left out)."""
    if plain(texts):
        return [g[:4] for text in texts for g in jsoncodec.loads(text or "[]")]
    groups = uncompressed("".join(texts)) if any(texts) else []
    return [[tags, left, list(itertools.accumulate(gaps)), durations] for tags, left, gaps, durations, *_ in groups]


def complete(rows: Iterable[dict[str, Any]], width_us: int) -> dict[int, list[dict[str, Any]]]:
    """Per bucket start µs: the parts (rows, in order) of the buckets whose parts were all read, of one packing;
    a bucket with a part missing or of another packing (a write cut short) is left out."""
    found: dict[int, dict[int, dict[str, Any]]] = {}
    for c in rows:
        t = int(c["time"])
        found.setdefault(t // width_us * width_us, {})[int(c.get("part") or 0)] = c
    out: dict[int, list[dict[str, Any]]] = {}
    for bucket, parts in found.items():
        first = parts.get(0)
        if first is None or first.get("parts") is None:
            continue
        count, at = int(first["parts"]), first.get("at")
        if all(k in parts and parts[k].get("at") == at for k in range(count)):
            out[bucket] = [parts[k] for k in range(count)]
    return out


def whole(rows: Iterable[dict[str, Any]], width_us: int, field: str) -> dict[int, list[str]]:
    """Per bucket start µs: the texts of `field` in the parts of the buckets read whole (`complete`)."""
    return {bucket: texts(parts, field) for bucket, parts in complete(rows, width_us).items()}


def texts(parts: list[dict[str, Any]], field: str) -> list[str]:
    """The texts of `field` in a bucket's parts (`complete`), in order."""
    return [c.get(field) or "" for c in parts]


def decoded(rows: Iterable[dict[str, Any]], width_us: int) -> dict[int, list[Group]]:
    """Per bucket start µs: the groups of the buckets whose parts were all read, of one packing (`whole`)."""
    return {bucket: unpacked(texts) for bucket, texts in whole(rows, width_us, "stays").items()}


def wanted(f: EventFilter) -> list[tuple[int, str]]:
    """(position in ROLLUP_TAGS, value) of `f`'s filters on the series' tags."""
    return [(i, getattr(f, name)) for name, i in _TAG_FILTERS if getattr(f, name) is not None]


def matching(groups: list[Group], f: EventFilter, lo: int, hi: int) -> list[Group]:
    """The groups of `f`'s series, cut to their stays in [lo, hi) µs."""
    tags_wanted = wanted(f)
    out = []
    for group in groups:
        if tags_wanted and any(group[0][i] != value for i, value in tags_wanted):
            continue
        times = group[2]
        if times and (times[0] < lo or times[-1] >= hi):
            keep = [k for k, t in enumerate(times) if lo <= t < hi]
            if not keep:
                continue
            group = [group[0], group[1], [times[k] for k in keep], [group[3][k] for k in keep]]
        if group[2]:
            out.append(group)
    return out


def newest(groups: list[Group], need: int, ids: Callable[[list[Key]], list[str]]) -> list[Group]:
    """The groups cut to their newest `need` stays together, by (time, event id) as a read of raw points orders
    them: ids (`ids`: of several stays at once) are compared only for the stays at the cut's instant."""
    times = sorted((t for g in groups for t in g[2]), reverse=True)
    if need >= len(times):
        return groups
    if need <= 0:
        return []
    edge = times[need - 1]
    above = sum(1 for t in times[:need] if t > edge)
    at_edge = [(i, k) for i, g in enumerate(groups) for k, t in enumerate(g[2]) if t == edge]
    if len(at_edge) > need - above:  # more stays at the cut's instant than it keeps: the greatest ids
        named = ids([(tuple(groups[i][0]), edge) for i, _ in at_edge])
        at_edge = [stay for _, stay in sorted(zip(named, at_edge, strict=True), reverse=True)[:need - above]]
    chosen = set(at_edge)
    out = []
    for i, (tags, left, ts, durations) in enumerate(groups):
        keep = [k for k, t in enumerate(ts) if t > edge or (t == edge and (i, k) in chosen)]
        if keep:
            out.append([tags, left, [ts[k] for k in keep], [durations[k] for k in keep]])
    return out


def count(groups: list[Group]) -> int:
    return sum(len(g[2]) for g in groups)


class Ids:
    """The event ids of packed stays, looked up from their raw points when asked for (module docstring) and kept:
    `fetch` takes any number in a few requests sent at once (a statement each, FEWEST_LOOKUPS to LOOKUPS to a
    request); `chunk` gives a pack group's ids as StayGroup.add takes them, which model.prefetch_ids asks together."""

    def __init__(self, query_all: Callable[[list[str]], list[list[dict[str, Any]]]]) -> None:
        self._query_all = query_all  # requests sent at once, their answers in order (influxreads.py)
        self._found: dict[Key, str] = {}

    def fetch(self, keys: Iterable[Key]) -> list[str]:
        """The ids of these stays, in order; StoreUnavailable when a raw point is gone (deleted after the pack
        was read)."""
        keys = list(keys)
        wanted = list(dict.fromkeys(k for k in keys if k not in self._found))
        size = min(LOOKUPS, max(FEWEST_LOOKUPS, -(-len(wanted) // reads.READERS)))
        requests = [";".join(lookup(key) for key in wanted[i:i + size]) for i in range(0, len(wanted), size)]
        for answer in self._query_all(requests):
            for series in answer:
                tags = tag_key(series.get("tags") or {})
                for at, event_id in series.get("values") or []:
                    self._found[(tags, int(at))] = event_id or ""
        gone = [key for key in wanted if key not in self._found]
        if gone:
            raise StoreUnavailable(f"{len(gone)} stays' events were deleted while they were read (first: "
                                   f"{gone[0][0][0]} at {gone[0][1]} µs): ask again")
        return [self._found[key] for key in keys]

    def chunk(self, tags: list[str], times: list[int]) -> Chunk:
        return Chunk(self, tuple(tags), times)


class Chunk:
    """The ids of one pack group's stays (`Ids.chunk`): its j-th's by `key(j)` from `source`."""

    __slots__ = ("source", "tags", "times")

    def __init__(self, source: Ids, tags: tuple[str, ...], times: list[int]) -> None:
        self.source, self.tags, self.times = source, tags, times

    def key(self, j: int) -> Key:
        return self.tags, self.times[j]

    def __call__(self, j: int) -> str:
        return self.source.fetch([self.key(j)])[0]


def lookup(key: Key) -> str:
    """The statement reading a stay's event id from its raw point: its entity's points at its instant, by series
    (`Ids.fetch` keeps the one of the stay's series; an entity's other tags are the same on all but a rare few)."""
    tags, at = key
    return (f'SELECT "event_id" FROM {iql.identifier(tags[ROLLUP_TAGS.index("type")])} '
            f'WHERE "entity_id" = {iql.string(tags[ROLLUP_TAGS.index("entity_id")])} AND time = {at * 1000} GROUP BY *')
