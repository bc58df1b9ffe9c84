"""The rise of an energy meter, kept per rollup bucket by `write`: what each reading adds over the reading before
it, summed in the bucket the reading falls in, so a day's or a year's energy is a sum of stored rises.

A reading adds its rise over the previous reading of its series, or itself after a drop below RESET_RATIO of it
(a new cycle counts from zero: HA's recorder rule, sensor/recorder.py `reset_detected`); the first reading of a
series only sets the start. Readings are taken in time order (at the same time, the smaller value first, as the
rollups' newest value is the greatest). A reading's rise depends on its predecessor only, so a late reading
changes two rises: its own and its successor's (which may lie in the next bucket); `write` works both out from
the stored readings around it (sqlrise.py). A meter is a series of device_class energy or a unit of
Wh/kWh/MWh, as HA's energy dashboard takes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingestor.store.rollups import PERIODS, US
from ingestor.store.rows import SERIES_FIELDS, Series
from ingestor.units import unit_symbol

RESET_RATIO = 0.9
ENERGY_UNITS = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0}  # unit of measurement -> factor to kWh, as HA spells them
_UNIT, _DEVICE_CLASS = SERIES_FIELDS.index("unit"), SERIES_FIELDS.index("device_class")

Reading = tuple[int, float]  # (time µs, value)
Key = tuple[int, int, int]  # (series, period, bucket) of the rollups


def is_meter(series: Series) -> bool:
    unit, device_class = unit_symbol(series[_UNIT]), series[_DEVICE_CLASS]  # stored by name: kilowatt_hour
    return unit in ENERGY_UNITS or (device_class == "energy" and unit is None)


def added(value: float, previous: float | None) -> float:
    """What a reading adds after `previous` (None: it is the first)."""
    if previous is None:
        return 0.0
    return value if value < RESET_RATIO * previous else value - previous


def rises(readings: list[Reading], before: float | None) -> list[float]:
    """Each reading's rise, in order, after the reading `before` them (None: the first is the series' first)."""
    out = []
    for _, value in readings:
        out.append(added(value, before))
        before = value
    return out


def add(deltas: dict[Key, float], sid: int, ts: int, amount: float) -> None:
    """Add a reading's rise (or a change of it) to its bucket of each period."""
    seconds = ts // US
    for period, width in enumerate(PERIODS):
        key = (sid, period, seconds // width)
        deltas[key] = deltas.get(key, 0.0) + amount


def changes(sid: int, stored: list[Reading], new: list[Reading], anchored: bool) -> dict[Key, float]:
    """What storing `new` changes in the rises of the buckets: `stored` are the readings already stored from the
    predecessor of the first new one (its first, when `anchored`, keeps its rise) to the successor of the last;
    every reading of both gets a key, so a bucket that gains readings gets a rise (0 at least)."""
    old = rises(stored, None)
    merged = sorted([*((r, 0, i) for i, r in enumerate(stored)), *((r, 1, i) for i, r in enumerate(new))])
    now = rises([r for r, _, _ in merged], None)
    deltas: dict[Key, float] = {}
    for (reading, is_new, i), rise in zip(merged, now, strict=True):
        if anchored and not is_new and i == 0:
            continue
        add(deltas, sid, reading[0], rise - (0.0 if is_new else old[i]))
    return deltas


def sums(sid: int, readings: Iterable[Reading], before: float | None) -> dict[Key, float]:
    """Each bucket's rise from the readings in time order (after the reading `before` them)."""
    out: dict[Key, float] = {}
    for ts, value in readings:
        add(out, sid, ts, added(value, before))
        before = value
    return out
