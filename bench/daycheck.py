"""Does a copied day (bench/daycopy.py) answer as its source day does, shifted? Asked through the store's own reads.

For a few copied days, the same questions about the copy and about its source (counts of the whole day and of an
unaligned window, counts by area, hourly stats of a power meter, an hour's 5-minute series, all events' hourly
buckets, one light's events, the durations of the day's stays, the meters' hourly rises, a trace) are compared with
times moved by the shift. Prints one line per question: "same", or what differs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from ingestor.store.model import EventFilter

DAY = dt.timedelta(days=1)
POWER = "sensor.main_power_total"
LIGHT = "light.kitchen_lamp"
METERS = [f"sensor.energy_{m}" for m in ("grid_import", "grid_export", "solar", "heat_pump", "car_charger")]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return bool(a == b)


def _plain(value: Any, shift: dt.timedelta) -> Any:
    """A store answer as lists and numbers, its times moved back by `shift` (µs times too, when they look like it)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), shift)
    if isinstance(value, dt.datetime):
        return value - shift
    if isinstance(value, dict):
        return {k: _plain(v, shift) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, shift) for v in value]
    return value


def _events(store: Any, f: EventFilter, shift: dt.timedelta) -> list[tuple[Any, ...]]:
    items = store.query(f, limit=1000).items
    return [(i["time_fired"], i.get("state"), i.get("old_state"), i.get("attributes"), i.get("event_id"))
            for i in items]


def questions(start: dt.datetime) -> dict[str, Callable[[Any, dt.timedelta], Any]]:
    """What is asked of the day beginning at `start` (the source's); each call gets the store and the shift."""
    def day(shift: dt.timedelta, **kw: Any) -> EventFilter:
        return EventFilter(start=start + shift, end=start + shift + DAY, **kw)

    window = (dt.timedelta(hours=3, minutes=7, seconds=13), dt.timedelta(hours=17, minutes=42, seconds=5))
    return {
        "count, whole day": lambda s, k: s.count(day(k)),
        "count, 03:07:13-17:42:05": lambda s, k: s.count(
            EventFilter(start=start + k + window[0], end=start + k + window[1])),
        "counts by area": lambda s, k: sorted(s.counts(day(k), "area_id", limit=50), key=str),
        "stats, power meter hourly": lambda s, k: _plain(s.stats(day(k, entity_id=POWER), 3600), k),
        "buckets, all events hourly": lambda s, k: _plain(s.buckets(day(k), 3600), k),
        "series, power meter 5 min, 10:00-11:00": lambda s, k: _plain(
            s.series(POWER, start + k + dt.timedelta(hours=10), start + k + dt.timedelta(hours=11), 300), k),
        "durations": lambda s, k: sorted(_plain(s.durations(day(k), limit=200), k), key=str),
        "stays sampled for anomalies": lambda s, k: sorted(
            (g.entity_id, g.state, t - int(k.total_seconds() * 1e6), d)
            for g in s.stay_groups(day(k), 50_000) for t, d in zip(g.times, g.durations, strict=True)),
        "meter rises hourly": lambda s, k: {m: [(t - int(k.total_seconds() * 1e6), e, b) for t, e, b in zip(
            r.start, r.energy, r.read_before, strict=True)] for m, r in (s.meter_rises(
                METERS, start + k, start + k + DAY) or {}).items()},
    }


def compare(store: Any, source: int, target: int) -> list[str]:
    """One line per question about day `target` (a copy of `source`, both in days since the epoch)."""
    start = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + source * DAY
    shift = (target - source) * DAY
    out = []
    for name, ask in questions(start).items():
        a, b = ask(store, dt.timedelta(0)), ask(store, shift)
        out.append(f"{name}: " + ("same" if _close(a, b) else f"differs: {_first_difference(a, b)}"))
    out += _light_events(store, start, shift)
    out += _trace(store, start, shift)
    return out


def _first_difference(a: Any, b: Any) -> str:
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{len(a)} items in the source, {len(b)} in the copy"
        wrong = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not _close(x, y)]
        return f"{len(wrong)} of {len(a)} items, first: {str(a[wrong[0]])[:160]} vs {str(b[wrong[0]])[:160]}"
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        wrong = [k for k in a if not _close(a[k], b[k])]
        return f"{wrong[:3]}: " + "; ".join(_first_difference(a[k], b[k]) for k in wrong[:2])
    return f"{str(a)[:160]} vs {str(b)[:160]}"


def _light_events(store: Any, start: dt.datetime, shift: dt.timedelta) -> list[str]:
    """One light's events: times (shifted), states, old states and attributes equal; the event ids, which are
    derived from entity, time and state, are those of the copy's own times."""
    f = EventFilter(start=start, end=start + DAY, entity_id=LIGHT)
    a = _events(store, f, shift)
    b = _events(store, dataclasses.replace(f, start=start + shift, end=start + shift + DAY), shift)
    moved = [(_moved(t, shift), *rest) for t, *rest in a]
    same = [x[:4] == y[:4] for x, y in zip(moved, b, strict=False)]
    ids = sum(x[4] == y[4] for x, y in zip(a, b, strict=False))
    return [f"events of {LIGHT}: {len(a)} / {len(b)}; time, state, old_state, attributes "
            + ("same" if len(a) == len(b) and all(same) else f"differ in {same.count(False)}")
            + f"; event ids equal to the source's: {ids}"]


def _moved(stamp: str, shift: dt.timedelta) -> str:
    when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) + shift
    return when.isoformat().replace("+00:00", "Z") if stamp.endswith("Z") else when.isoformat()


def trace_counts(store: Any, at: dt.datetime) -> tuple[int, int, int] | None:
    """The first automation run of the day beginning at `at`: how many events its context holds, how many have it
    as parent, and how many share its parent."""
    items = store.query(EventFilter(start=at, end=at + DAY, event_type="automation_triggered"), limit=1000).items
    if not items:
        return None
    ctx = items[-1]["context"]
    return (len(store.by_context(ctx["id"])), len(store.by_parent(ctx["id"])),
            len(store.by_parent(ctx["parent_id"])) if ctx.get("parent_id") else 0)


def _trace(store: Any, start: dt.datetime, shift: dt.timedelta) -> list[str]:
    return [f"trace of the first automation run (events of its context / children / siblings): source "
            f"{trace_counts(store, start)}, copy {trace_counts(store, start + shift)}"]
