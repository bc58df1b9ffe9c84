"""Recommendations that cite the home's own figures and name the data they rest on; none where it is too thin.

- shift: a meter's energy in the day's dearest PEAK_HOURS (by the mean stored price of each hour of the day,
  UTC) against the cheapest CHEAP_HOURS window: what moving it would have saved, per week. Only when every hour
  of the day has a price on at least MIN_PRICE_DAYS days and the meter drew at least MIN_SHIFT_KWH there.
- unavailable: an entity that reported 'unavailable' at least MIN_UNAVAILABLE times in the range.
- temperature: hourly energy following the outdoor temperature, when the correlation is significant, strong
  (|r| >= MIN_R) and rests on at least MIN_CORRELATION_HOURS hours.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ingestor.energy.correlation import Correlation

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


def _clock(hour: int) -> str:
    return f"{hour % 24:02d}:00"


def _window(profile: dict[int, float], width: int, pick: Any) -> tuple[int, float]:
    """(first hour of day, mean price) of the `width` consecutive hours (wrapping midnight) chosen by `pick`."""
    means = [(first, sum(profile[(first + i) % 24] for i in range(width)) / width) for first in range(24)]
    return pick(means, key=lambda m: m[1])


def _profile(price: dict[int, float]) -> dict[int, float] | None:
    """The mean price per UTC hour of the day, where every hour has prices on MIN_PRICE_DAYS days."""
    per_hour_of_day: dict[int, list[float]] = defaultdict(list)
    for hour, value in price.items():
        per_hour_of_day[hour // HOUR_US % 24].append(value)
    if len(per_hour_of_day) < 24 or min(len(v) for v in per_hour_of_day.values()) < MIN_PRICE_DAYS:
        return None
    return {h: sum(v) / len(v) for h, v in per_hour_of_day.items()}


def peak_hours(price: dict[int, float]) -> set[int] | None:
    """The UTC hours of the day of the dearest PEAK_HOURS window: the only hours `shift` reads energy of."""
    profile = _profile(price)
    if profile is None:
        return None
    peak, _ = _window(profile, PEAK_HOURS, max)
    return {(peak + i) % 24 for i in range(PEAK_HOURS)}


def shift(meter: str, energy: dict[int, float], price: dict[int, float], price_unit: str | None,
          cost_unit: str | None) -> dict[str, Any] | None:
    """`energy` and `price`: kWh and price per hour (µs of its start; of the peak hours at least). Per week: over
    the days with prices."""
    profile = _profile(price)
    if profile is None:
        return None
    peak, _ = _window(profile, PEAK_HOURS, max)
    cheap, cheap_price = _window(profile, CHEAP_HOURS, min)
    in_peak = {(peak + i) % 24 for i in range(PEAK_HOURS)}
    drawn = [(kwh, price[hour]) for hour, kwh in energy.items() if hour // HOUR_US % 24 in in_peak and hour in price]
    kwh = sum(k for k, _ in drawn)
    if kwh < MIN_SHIFT_KWH:
        return None
    paid = sum(k * p for k, p in drawn) / kwh
    days = round(len(price) / 24, 2)
    weekly = kwh * (paid - cheap_price) * 7 / days
    if weekly <= 0:
        return None
    window = f"{_clock(peak)}–{_clock(peak + PEAK_HOURS)} UTC"
    cheap_window = f"{_clock(cheap)}–{_clock(cheap + CHEAP_HOURS)} UTC"
    return {"kind": "shift", "entity_id": meter,
            "text": f"{meter} drew {kwh:.1f} kWh in the {window} peak over {days:g} days of prices at {paid:.1f} "
                    f"{price_unit}; the cheapest {CHEAP_HOURS} h window ({cheap_window}) averaged {cheap_price:.1f} "
                    f"{price_unit}: moving it saves {weekly:.1f} {cost_unit}/week",
            "figures": {"peak_kwh": round(kwh, 6), "peak_price": round(paid, 6), "cheap_price": round(cheap_price, 6),
                        "saving_per_week": round(weekly, 6), "peak_window": window, "cheap_window": cheap_window},
            "based_on": {"meter": meter, "price_hours": len(price), "days": days, "price_unit": price_unit}}


def unavailable(entity_id: str, count: int, window: str) -> dict[str, Any] | None:
    if count < MIN_UNAVAILABLE:
        return None
    return {"kind": "unavailable", "entity_id": entity_id,
            "text": f"{entity_id} has reported 'unavailable' {count} times {window}: check its device, battery or "
                    "connection",
            "figures": {"count": count}, "based_on": {"events": count, "state": UNAVAILABLE}}


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
