"""Recommendations that cite the home's own figures and name the data they rest on; none where it is too thin.

- shift: a meter's energy in the day's dearest PEAK_HOURS (by the mean stored price of each hour of the home's
  day, in HA's time zone: hometime.py) against the cheapest CHEAP_HOURS window: what moving it would have saved,
  per week. Only when every hour of the day has a price on at least MIN_PRICE_DAYS days and the meter drew at
  least MIN_SHIFT_KWH there.
- unavailable: an entity that reported 'unavailable' at least MIN_UNAVAILABLE times in the range.
- temperature: hourly energy following the outdoor temperature, when the correlation is significant, strong
  (|r| >= MIN_R) and rests on at least MIN_CORRELATION_HOURS hours.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ingestor.energy.correlation import Correlation
from ingestor.hometime import HomeClock

HOUR_US = 3600 * 1_000_000
PEAK_HOURS = 3
CHEAP_HOURS = 2
MIN_PRICE_DAYS = 2
MIN_SHIFT_KWH = 0.1
MIN_UNAVAILABLE = 10
UNAVAILABLE = "unavailable"
UNAVAILABLE_LIMIT = 20  # entities named at most, most often unavailable first
MIN_R = 0.5
MIN_CORRELATION_HOURS = 48


def _window(profile: dict[int, float], width: int, pick: Any) -> tuple[int, float]:
    """(first hour of day, mean price) of the `width` consecutive hours (wrapping midnight) chosen by `pick`."""
    means = [(first, sum(profile[(first + i) % 24] for i in range(width)) / width) for first in range(24)]
    return pick(means, key=lambda m: m[1])


def local_hours(price: dict[int, float], clock: HomeClock) -> dict[int, int]:
    """The home's hour of the day of each priced hour (µs of its start): its peak is its own evening, and an
    hour keeps its place in the home's day across a change to or from summer time."""
    return clock.hours_of_day(list(price))


def _profile(price: dict[int, float], local: dict[int, int]) -> dict[int, float] | None:
    """The mean price per hour of the home's day, where every hour has prices on MIN_PRICE_DAYS days."""
    per_hour_of_day: dict[int, list[float]] = defaultdict(list)
    for hour, value in price.items():
        per_hour_of_day[local[hour]].append(value)
    if len(per_hour_of_day) < 24 or min(len(v) for v in per_hour_of_day.values()) < MIN_PRICE_DAYS:
        return None
    return {h: sum(v) / len(v) for h, v in per_hour_of_day.items()}


def _peak(profile: dict[int, float]) -> tuple[int, set[int]]:
    """The first hour of the home's day of the dearest PEAK_HOURS window, and its hours."""
    peak, _ = _window(profile, PEAK_HOURS, max)
    return peak, {(peak + i) % 24 for i in range(PEAK_HOURS)}


def peak_hours(price: dict[int, float], local: dict[int, int]) -> set[int] | None:
    """The UTC hours of the day that the home's dearest PEAK_HOURS window fell on over the range (both sides of a
    change of summer time): the only hours `shift` reads energy of."""
    profile = _profile(price, local)
    if profile is None:
        return None
    _, in_peak = _peak(profile)
    return {hour // HOUR_US % 24 for hour in price if local[hour] in in_peak}


def shift(meter: str, energy: dict[int, float], price: dict[int, float], local: dict[int, int], clock: HomeClock,
          price_unit: str | None, cost_unit: str | None) -> dict[str, Any] | None:
    """`energy` and `price`: kWh and price per hour (µs of its start; of the peak hours at least); `local`: the
    home's hour of the day of each priced hour. Per week: over the days with prices."""
    profile = _profile(price, local)
    if profile is None:
        return None
    peak, in_peak = _peak(profile)
    cheap, cheap_price = _window(profile, CHEAP_HOURS, min)
    drawn = [(kwh, price[hour]) for hour, kwh in energy.items() if hour in price and local[hour] in in_peak]
    kwh = sum(k for k, _ in drawn)
    if kwh < MIN_SHIFT_KWH:
        return None
    paid = sum(k * p for k, p in drawn) / kwh
    days = round(len(price) / 24, 2)
    weekly = kwh * (paid - cheap_price) * 7 / days
    if weekly <= 0:
        return None
    minute = clock.local(max(price)).minute  # a UTC hour starts at :30 on a home's clock in a half-hour zone
    window = f"{peak % 24:02d}:{minute:02d}–{(peak + PEAK_HOURS) % 24:02d}:{minute:02d}"
    cheap_window = f"{cheap % 24:02d}:{minute:02d}–{(cheap + CHEAP_HOURS) % 24:02d}:{minute:02d}"
    return {"kind": "shift", "entity_id": meter,
            "text": f"{meter} drew {kwh:.1f} kWh in the {window} peak ({clock.name}) over {days:g} days of prices at "
                    f"{paid:.1f} {price_unit}; the cheapest {CHEAP_HOURS} h window ({cheap_window}) averaged "
                    f"{cheap_price:.1f} {price_unit}: moving it saves {weekly:.1f} {cost_unit}/week",
            "figures": {"peak_kwh": round(kwh, 6), "peak_price": round(paid, 6), "cheap_price": round(cheap_price, 6),
                        "saving_per_week": round(weekly, 6), "peak_window": window, "cheap_window": cheap_window},
            "based_on": {"meter": meter, "price_hours": len(price), "days": days, "price_unit": price_unit,
                         "time_zone": clock.name}}


def span(seconds: float) -> str:
    """A range's length as people say it: "24 h" up to two days ("1 days" reads wrong), then "7 days"."""
    return f"{round(seconds / 3600, 1):g} h" if seconds < 2 * 86_400 else f"{round(seconds / 86_400, 2):g} days"


def unavailable(entity_id: str, count: int, seconds: float) -> dict[str, Any] | None:
    """`seconds`: the length of the range the count is over, named in the text and in based_on."""
    if count < MIN_UNAVAILABLE:
        return None
    return {"kind": "unavailable", "entity_id": entity_id,
            "text": f"{entity_id} has reported 'unavailable' {count} times in these {span(seconds)}: check its "
                    "device, battery or connection",
            "figures": {"count": count}, "based_on": {"events": count, "state": UNAVAILABLE, "range": span(seconds)}}


def temperature(found: Correlation, series: str) -> dict[str, Any] | None:
    if found.r is None or not found.significant or abs(found.r) < MIN_R or found.n < MIN_CORRELATION_HOURS:
        return None
    trend = "rises as it gets colder outside" if found.r < 0 else "rises as it gets warmer outside"
    need = "heating" if found.r < 0 else "cooling"
    return {"kind": "temperature", "entity_id": None,
            "text": f"The home's hourly energy {trend} (r = {found.r:.2f} over {found.n} hours): {need} drives its "
                    "use, so insulation, setpoints and schedules are where savings are",
            "figures": {"r": round(found.r, 6), "n": found.n, "p_value": found.p_value},
            "based_on": {"series": series, "hours": found.n}}
