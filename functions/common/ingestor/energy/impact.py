"""A device's impact on the home's energy, from its state timeline: how much of each hour it was on, and the
home's hourly energy in the hours it was mostly on against those it was mostly off.

The difference of the two means is what an hour of the device adds (its average draw, in kWh per hour); times
its hours on it is the energy it accounts for. Neither is given unless both groups have MIN_HOURS hours: a
mean of one or two hours says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_HOURS = 3
HOUR_US = 3600 * 1_000_000


def on_fractions(changes: list[tuple[int, bool]], start: int, end: int) -> dict[int, float]:
    """Per hour (µs of its start) in [start, end): the fraction of it the device was on. `changes` are
    (time µs, on) in time order, the first being the state at `start` (or later, when unknown before)."""
    out: dict[int, float] = {}
    for i, (at, on) in enumerate(changes):
        if not on:
            continue
        lo = max(at, start)
        hi = min(changes[i + 1][0] if i + 1 < len(changes) else end, end)
        while lo < hi:
            hour = lo // HOUR_US * HOUR_US
            piece = min(hi, hour + HOUR_US) - lo
            out[hour] = out.get(hour, 0.0) + piece / HOUR_US
            lo += piece
    return out


@dataclass(frozen=True)
class Impact:
    on_hours: float
    hours_on: int
    hours_off: int
    mean_on: float | None
    mean_off: float | None
    per_hour: float | None  # kWh an hour of the device adds
    attributed: float | None  # kWh over the range


def impact(energy: dict[int, float], fractions: dict[int, float]) -> Impact:
    """`energy`: the home's kWh per whole hour; hours on are those the device was on for half of them or more."""
    on = [kwh for hour, kwh in energy.items() if fractions.get(hour, 0.0) >= 0.5]
    off = [kwh for hour, kwh in energy.items() if fractions.get(hour, 0.0) < 0.5]
    on_hours = sum(fractions.values())
    mean_on = sum(on) / len(on) if on else None
    mean_off = sum(off) / len(off) if off else None
    enough = len(on) >= MIN_HOURS and len(off) >= MIN_HOURS
    per_hour = mean_on - mean_off if enough and mean_on is not None and mean_off is not None else None
    return Impact(on_hours, len(on), len(off), mean_on, mean_off, per_hour,
                  None if per_hour is None else per_hour * on_hours)
