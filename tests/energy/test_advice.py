"""The shift recommendation reads the home's own evening: its peak and cheapest window are hours of the home's day
(HA's time zone), named on its clock, and stay so across a change of summer time."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestor import hometime
from ingestor.energy import advice

HOUR = dt.timedelta(hours=1)
PEAK, CHEAP, USUAL = 35.0, 10.0, 20.0


def micros(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def tariff(clock: hometime.HomeClock, first: dt.datetime, days: int) -> dict[int, float]:
    """A price per hour: PEAK from 16:00 to 19:00 on the home's clock, CHEAP from 02:00 to 04:00, USUAL else."""
    price = {}
    for h in range(days * 24):
        at = micros(first + h * HOUR)
        local = clock.hour_of_day(at)
        price[at] = PEAK if 16 <= local < 19 else CHEAP if 2 <= local < 4 else USUAL
    return price


def kettle(clock: hometime.HomeClock, price: dict[int, float]) -> dict[int, float]:
    """1 kWh every day from 17:00 on the home's clock, 0.2 kWh at every other hour."""
    return {at: 1.0 if clock.hour_of_day(at) == 17 else 0.2 for at in price}


def recommend(clock: hometime.HomeClock, price: dict[int, float]) -> dict[str, object]:
    local = advice.local_hours(price, clock)
    peak = advice.peak_hours(price, local)
    assert peak is not None
    energy = {at: kwh for at, kwh in kettle(clock, price).items() if at // (3600 * 10**6) % 24 in peak}
    found = advice.shift("switch.kettle", energy, price, local, clock, "p/kWh", "p")
    assert found is not None
    return found


def test_a_new_york_home_s_peak_is_its_evening_named_on_its_clock() -> None:
    """16:00-19:00 in New York is 21:00-00:00 UTC: the recommendation says 16:00-19:00 and which zone."""
    clock = hometime.of({"time_zone": "America/New_York"})
    price = tariff(clock, dt.datetime(2026, 11, 23, 5, tzinfo=dt.UTC), 7)
    found = recommend(clock, price)
    figures = found["figures"]
    assert (figures["peak_window"], figures["cheap_window"]) == ("16:00–19:00", "02:00–04:00")  # type: ignore[index]
    assert "16:00–19:00 peak (America/New_York)" in found["text"]  # type: ignore[operator]
    assert found["based_on"]["time_zone"] == "America/New_York"  # type: ignore[index]


def test_across_the_end_of_summer_time_the_peak_stays_the_home_s_16_to_19() -> None:
    """London leaves BST at 01:00 UTC on 25 October 2026: its 16:00-19:00 is 15:00-18:00 UTC before and
    16:00-19:00 UTC after. Read by the home's clock, every peak hour costs PEAK and the kettle's 17:00 kWh is
    counted on each of the 6 days; read by UTC's, the peak would mix USUAL hours in."""
    clock = hometime.of({"time_zone": "Europe/London"})
    price = tariff(clock, dt.datetime(2026, 10, 22, 0, tzinfo=dt.UTC), 6)
    figures = recommend(clock, price)["figures"]
    assert figures["peak_price"] == pytest.approx(PEAK)  # type: ignore[index]
    assert figures["cheap_price"] == pytest.approx(CHEAP)  # type: ignore[index]
    assert figures["peak_kwh"] == pytest.approx(6 * (1.0 + 0.2 + 0.2))  # type: ignore[index]
    assert figures["peak_window"] == "16:00–19:00"  # type: ignore[index]


def test_a_half_hour_zone_s_windows_start_at_the_half_hour_its_clock_shows() -> None:
    """India is UTC+5:30: an hour of prices (a UTC hour) runs from :30 to :30 on the home's clock."""
    clock = hometime.of({"time_zone": "Asia/Kolkata"})
    price = tariff(clock, dt.datetime(2026, 11, 23, 0, tzinfo=dt.UTC), 3)
    assert recommend(clock, price)["figures"]["peak_window"] == "16:30–19:30"  # type: ignore[index]


def test_an_unavailable_count_names_its_range_as_people_say_it() -> None:
    """A day is "24 h", not "1 days"; from two days on, days."""
    assert [advice.span(s) for s in (86_400, 36 * 3600, 2 * 86_400, 7 * 86_400, 30.5 * 86_400)] == [
        "24 h", "36 h", "2 days", "7 days", "30.5 days"]
    found = advice.unavailable("sensor.garden", 43, 86_400)
    assert found is not None and "'unavailable' 43 times in these 24 h:" in found["text"]
    assert advice.unavailable("sensor.garden", advice.MIN_UNAVAILABLE - 1, 86_400) is None
