"""Energy meters read as Home Assistant's statistics read them: hourly energy from a cumulative reading.

A meter (device_class energy, or a unit of Wh/kWh/MWh) is a `total_increasing` reading: the energy of an
hour is how much it rose. A drop below 90 % of the previous reading is a reset (a new cycle, a replaced
meter), after which the meter counts again from zero: HA's recorder rule (sensor/recorder.py
`reset_detected`). A smaller dip is noise: the reading it recovers to is not counted twice.

Where the store keeps no rises for a range (store/rise.py; InfluxDB, a range that is not whole hours, docs/energy.md),
hours are read from the hourly rollups (min and max of the readings), so a year costs ~8,760 buckets, not
millions of events. Without a reset a monotone meter's hour rose from the last reading before it to its
maximum; an hour whose minimum falls below 90 % of that baseline holds a reset. When its maximum is below the
baseline too, every reading of the hour follows the reset (readings before it would be at the baseline or above):
the new cycle counted from zero rose to that maximum (a daily utility meter's midnight). Only an hour with
readings on both sides of a reset (and the first hour, which has no baseline) reads its raw events to follow the
meter exactly. One reset per hour is assumed where the rollups answer. An hour with no
reading adds nothing: what the meter rose meanwhile lands in the next hour that has one (its `span_h` says
over how many hours), as in HA's statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingestor.store.model import Columns
from ingestor.store.rise import ENERGY_UNITS, RESET_RATIO

HOUR_S = 3600
US = 1_000_000

# unit of measurement -> factor to W (power), as HA spells them (ENERGY_UNITS: to kWh, the store's meters' rule)
POWER_UNITS = {"W": 1.0, "kW": 1000.0, "MW": 1_000_000.0}


def kind(device_class: str | None, unit: str | None) -> str | None:
    """"energy" (a meter), "power" (a rate) or None: what HA's energy dashboard would take it for."""
    if unit in ENERGY_UNITS or (device_class == "energy" and unit is None):
        return "energy"
    if unit in POWER_UNITS or (device_class == "power" and unit is None):
        return "power"
    return None


def reset_detected(value: float, previous: float) -> bool:
    return value < RESET_RATIO * previous


def follow(readings: Iterable[float], baseline: float | None) -> tuple[float, float | None, int]:
    """The energy of a run of readings after `baseline` (HA's rule), the new baseline and the resets seen."""
    energy, resets = 0.0, 0
    for value in readings:
        if baseline is None:
            baseline = value
        elif reset_detected(value, baseline):
            energy += value  # a new cycle counts from zero
            resets += 1
            baseline = value
        elif value > baseline:
            energy += value - baseline
            baseline = value
    return energy, baseline, resets


@dataclass(frozen=True)
class Hours:
    """A meter's energy per bucket that has a reading, oldest first, as columns (a year is 8,760 hours)."""

    start: list[int] = field(default_factory=list)  # µs since the epoch
    energy: list[float] = field(default_factory=list)  # in the meter's own unit
    span_h: list[int] = field(default_factory=list)  # buckets since the previous reading's (1: this bucket's
    # energy is its own alone; 0: none before)
    resets: list[int] = field(default_factory=list)


RawHour = Callable[[int], list[float]]  # the readings of the bucket starting then (µs), oldest first


def split_reset(buckets: Columns, baseline: float | None) -> bool:
    """Whether a bucket after the first holds readings on both sides of a reset (which only its raw events or
    finer buckets tell apart)."""
    for lo, hi in zip(buckets.min, buckets.max, strict=True):
        if hi is None or lo is None:
            continue
        if baseline is not None and reset_detected(lo, baseline) and hi >= baseline:
            return True
        baseline = hi if baseline is None or reset_detected(lo, baseline) else max(baseline, hi)
    return False


def hours(buckets: Columns, baseline: float | None, since_us: int | None, raw: RawHour,
          width_s: int = HOUR_S) -> Hours:
    """Energy of a meter per bucket of `width_s` (hours, or days where no day splits a reset), oldest first,
    given the reading before them (`baseline`, taken at `since_us`)."""
    out = Hours()
    width = width_s * US
    last_hour = None if since_us is None else since_us // width * width
    for start, lo, hi in zip(buckets.start, buckets.min, buckets.max, strict=True):
        if hi is None or lo is None:
            continue
        span = 0 if last_hour is None else max(1, (start - last_hour) // width)  # both are whole buckets
        if baseline is not None and not reset_detected(lo, baseline):  # most buckets: the meter rose or stood
            energy, resets = (hi - baseline, 0) if hi > baseline else (0.0, 0)
            baseline = max(baseline, hi)
        elif baseline is not None and hi < baseline:
            # every reading follows the reset (any before it would be at the baseline or above): a cycle from zero
            energy, resets, baseline = hi, 1, hi
        else:  # no baseline yet, or readings on both sides of a reset: its raw readings tell
            readings = raw(start)
            if readings:
                energy, baseline, resets = follow(readings, baseline)
            elif baseline is None:  # raw events pruned: the hour's summary is all there is
                energy, resets, baseline = hi - lo, 0, hi
            else:  # the rise before the reset here; the new cycle's shows in the next hour (it resets from there)
                energy, resets, baseline = hi - baseline, 1, hi
        out.start.append(start)
        out.energy.append(energy)
        out.span_h.append(span)
        out.resets.append(resets)
        last_hour = start
    return out
