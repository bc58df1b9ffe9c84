"""Rollups on InfluxDB: measurements of their own, written by `write`, so no continuous query is needed (the
same on 1.x, 2.x and 3.x).

InfluxDB has no transactions, so a rollup is never incremented: after a batch's points are written, every
5-minute bucket the batch touched is summed again from the raw points in it (per series: the events' tags),
then the hours and days those buckets belong to from the 5-minute and hour rollups. A point is keyed by
measurement, tags and time, so writing a rollup again overwrites it: a redelivered batch sums to the same
rollups, and a kill before the rollups are written means the batch was not acknowledged, so its redelivery
sums them. Rollup points carry the events' tags but `type` for the event type (not `event_type`, so event
reads never see them).

A database written before rollups existed answers from raw points (as before) until
`python -m ingestor.store rollups` has summed its history; the point READY then says the rollups are whole.

Measurements: rollup_5m, rollup_1h, rollup_1d (fields n, vn: integers; vsum, vmin, vmax, last: floats;
newest: the newest event's time in µs) and stays_5m, stays_1h, stays_1d (tag `state`: a state entered or left,
for states the SQL store's state rollups keep too; fields entered, left: the events entering and leaving it,
integers; dn: the stays that ended there with a duration, integer; dsum, dmin, dmax: floats). A read of events
in (or leaving) a rare state, such as reliability's "unavailable", finds the entities and days holding it there
and reads only their raw points, as the SQL store does with its daily state rollups. Stays written before
`entered` and `left` existed have no STATES_READY point: such reads scan raw points until
`python -m ingestor.store rollups` summed them again.

dims_5m, dims_1h, dims_1d: the counts of every event (tag by=all), per domain, per area and per device (by=domain,
by=area_id or by=device_id, tag `key` the value, none for events without one); fields n, newest (µs) as in
rollup_*. Summed with the 5-minute rollups they come from, so they hold the same events. A count over every series (all
events' trend, the area heatmap) reads a few dozen series of them instead of every series of rollup_* (about
1,100 in the busy home: InfluxDB reads each one's points). A database whose rollups were summed before these
existed has no DIMS_READY point and reads rollup_* until `python -m ingestor.store rollups` summed them too.
Per device (by=device_id) likewise, with its own point DEVICES_READY: a device's events and newest time
(reliability) read ~140 series of dims_* instead of every series of rollup_*; a database whose dims_* were
summed before devices were counted reads rollup_* for them until `python -m ingestor.store rollups` ran again.

packed_counts_1h, packed_counts_1d: every series' n of an hour's or a day's rollup_* in one point (influxcounts.py),
written with them, so a count grouped by the events' tags (the stats summary) reads a point per hour or day there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingestor.store.influxones import READY as ONES_MARKER
from ingestor.store.lineprotocol import TAGS, _float, _tag_value
from ingestor.store.rollups import add_duration, add_event, categorical, new_state, new_value

US = 1_000_000
PERIODS = {"5m": 300, "1h": 3600, "1d": 86_400}
ROLLUPS = {name: f"rollup_{name}" for name in PERIODS}
STAYS = {name: f"stays_{name}" for name in PERIODS}
ROLLUP_TAGS = tuple("type" if t == "event_type" else t for t in TAGS)  # the events' tags, as rollups name them
DIMS = {name: f"dims_{name}" for name in PERIODS}
DIM_TAGS = ("domain", "area_id", "device_id")  # the dimensions counted apart (besides every event: "all")
ALL = "all"
PACKED = {"1h": "packed_stays_1h", "1d": "packed_stays_1d"}  # an hour's and a past day's stays (influxstays.py)
SUMS = {"1h": "packed_sums_1h", "1d": "packed_sums_1d"}  # an hour's and a day's stays_* in one point (influxsums.py)
COUNTS = {"1h": "packed_counts_1h", "1d": "packed_counts_1d"}  # an hour's and a day's rollup_* n (influxcounts.py)
MEASUREMENTS = (frozenset(ROLLUPS.values()) | frozenset(STAYS.values()) | frozenset(DIMS.values())
                | frozenset(PACKED.values()) | frozenset(SUMS.values()) | frozenset(COUNTS.values()))
# Written once the rollups hold every event: when the first write finds no events, or when
# `python -m ingestor.store rollups` has summed a database written before rollups existed. Until then reads
# answer from raw points.
# The point is written again each day a writer runs, at that day's start, so a retention policy that drops
# old points never drops the last of them.
# The raw points summed again are read an hour at most at a time (whole 5-minute buckets): a day of a busy home
# (274,000 points) read at once outlasts a request's timeout, as `python -m ingestor.store rollups` did.
SUM_WINDOW_US = 3600 * US
READY = "rollups_ready"
DIMS_READY = "dims_ready"  # the same for dims_*
STATES_READY = "states_ready"  # the same for the stays' entered and left counts
DEVICES_READY = "devices_ready"  # the same for dims_* by=device_id
PACKED_READY = "packed_stays_ready"  # every hour's stays packed (influxstays.py)
ONES_READY = ONES_MARKER  # every event point carries `one` (influxones.py)
SUMS_READY = "packed_sums_ready"  # every hour's and day's stays_* packed in SUMS (influxsums.py)
COUNTS_READY = "packed_counts_ready"  # every hour's and day's rollup_* counts packed in COUNTS (influxcounts.py)
MARKERS = frozenset({READY, DIMS_READY, STATES_READY, DEVICES_READY, PACKED_READY, ONES_READY, SUMS_READY,
                     COUNTS_READY})
# The marker each dimension of dims_* needs besides DIMS_READY (written later than the others).
DIM_MARKERS = {"device_id": DEVICES_READY}
READY_RECHECK_S = 60


def ready_point(now_us: int, measurement: str = READY) -> str:
    return f"{measurement} complete=true {now_us // (PERIODS['1d'] * US) * PERIODS['1d'] * US}"


def runs(times_us: Iterable[int], width_s: int) -> list[tuple[int, int]]:
    """Contiguous runs [start, end) µs of the buckets of `width_s` holding any of the times."""
    width = width_s * US
    buckets = sorted({t // width for t in times_us})
    out: list[tuple[int, int]] = []
    for b in buckets:
        if out and out[-1][1] == b * width:
            out[-1] = (out[-1][0], (b + 1) * width)
        else:
            out.append((b * width, (b + 1) * width))
    return out


def tag_key(tags: dict[str, str]) -> tuple[str, ...]:
    """The events' tags of a raw series as the rollups' tag values, in ROLLUP_TAGS order."""
    return tuple(tags.get("event_type" if t == "type" else t) or "" for t in ROLLUP_TAGS)


def sums(rows: Iterable[tuple[dict[str, str], dict[str, Any]]]) -> tuple[dict, dict]:
    """Per (tags, 5-minute bucket µs): value sums; per (tags, bucket, state entered or left): state sums
    ([entered, left, stays, their sum, min, max, 0.0], as rollups.new_state)."""
    values: dict[tuple[tuple[str, ...], int], list[Any]] = {}
    stays: dict[tuple[tuple[str, ...], int, str], list[Any]] = {}
    width = PERIODS["5m"] * US
    for tags, c in rows:
        ts = int(c["time"])
        key = (tag_key(tags), ts // width * width)
        acc = values.get(key)
        if acc is None:
            acc = values[key] = new_value()
        value = c.get("state_value")
        add_event(acc, ts, None if value is None else float(value))
        duration, left, entered = c.get("duration_in_state"), c.get("old_state"), c.get("state")
        if categorical(left) and left:  # a tag value cannot be empty
            sacc = _state(stays, key, left)
            if duration is not None:
                add_duration(sacc, float(duration))  # counts it as left too
            else:
                sacc[1] += 1
        if categorical(entered) and entered:
            _state(stays, key, entered)[0] += 1
    return values, stays


def _state(stays: dict[tuple[tuple[str, ...], int, str], list[Any]], key: tuple[tuple[str, ...], int],
           state: str) -> list[Any]:
    skey = (key[0], key[1], state)
    found = stays.get(skey)
    if found is None:
        found = stays[skey] = new_state()
    return found


def _tags(values: tuple[str, ...]) -> str:
    return "".join(f",{name}={_tag_value(v)}" for name, v in zip(ROLLUP_TAGS, values, strict=True) if v)


def value_point(measurement: str, tags: tuple[str, ...], start_us: int, acc: list[Any]) -> str:
    fields = [f"n={int(acc[0])}i", f"vn={int(acc[1])}i", f"newest={int(acc[5])}i"]
    for name, value in (("vsum", acc[2]), ("vmin", acc[3]), ("vmax", acc[4]), ("last", acc[6])):
        number = _float(value)
        if number is not None:
            fields.append(f"{name}={number}")
    return f"{measurement}{_tags(tags)} {','.join(fields)} {start_us}"  # written in µs, as the events are


def stay_point(measurement: str, tags: tuple[str, ...], state: str, start_us: int, acc: list[Any]) -> str:
    fields = [f"entered={int(acc[0])}i", f"left={int(acc[1])}i", f"dn={int(acc[2])}i"]
    for name, value in (("dsum", acc[3]), ("dmin", acc[4]), ("dmax", acc[5])):
        number = _float(value)
        if number is not None:
            fields.append(f"{name}={number}")
    return f"{measurement}{_tags(tags)},state={_tag_value(state)} {','.join(fields)} {start_us}"


def rollup_key(tags: dict[str, str]) -> tuple[str, ...]:
    """The tag values of a rollup series (GROUP BY * of a rollup measurement), in ROLLUP_TAGS order."""
    return tuple(tags.get(t) or "" for t in ROLLUP_TAGS)


def dim_sums(values: dict[tuple[tuple[str, ...], int], list[Any]]) -> dict[tuple[str, str, int], list[int]]:
    """Per (dimension, its value or "", bucket µs): [n, newest µs], from the per-series sums of the same buckets."""
    out: dict[tuple[str, str, int], list[int]] = {}
    where = {by: ROLLUP_TAGS.index(by) for by in DIM_TAGS}
    for (tags, start), acc in values.items():
        for key in [(ALL, "", start)] + [(by, tags[i], start) for by, i in where.items()]:
            found = out.setdefault(key, [0, -1])
            found[0] += int(acc[0])
            found[1] = max(found[1], int(acc[5]))
    return out


def dim_point(measurement: str, by: str, key: str, start_us: int, n: int, newest: int) -> str:
    tag = f",key={_tag_value(key)}" if key else ""
    return f"{measurement},by={by}{tag} n={int(n)}i,newest={int(newest)}i {start_us}"
