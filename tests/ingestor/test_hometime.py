"""The home's clock: "today" starts at the home's own midnight (HA's time_zone), UTC only when HA's config is not
known or names a zone this machine does not know, and it says which."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import pytest

from ingestor import hometime


def test_today_in_auckland_starts_at_its_midnight_not_at_utc_s() -> None:
    """09:30 on 2 December in Auckland (NZDT, +13) is 20:30 on 1 December UTC: its today began 9.5 h ago."""
    clock = hometime.of({"time_zone": "Pacific/Auckland", "latitude": -36.8})
    at = dt.datetime(2026, 12, 1, 20, 30, tzinfo=dt.UTC)
    assert clock.midnight(at) == dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.UTC)
    assert clock.describe() == {"name": "Pacific/Auckland", "source": "home_assistant"}


def test_today_in_new_york_in_the_evening_is_still_the_day_utc_has_left() -> None:
    """21:00 on 1 December in New York (EST, -5) is 02:00 on 2 December UTC."""
    clock = hometime.of({"time_zone": "America/New_York"})
    at = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)
    assert clock.midnight(at) == dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)


def test_a_day_that_changes_to_summer_time_starts_at_its_own_midnight() -> None:
    """London moves to BST at 01:00 UTC on 29 March 2026: that afternoon, today began at 00:00 GMT = 00:00 UTC,
    and the next day at 00:00 BST = 23:00 UTC."""
    clock = hometime.of({"time_zone": "Europe/London"})
    assert clock.midnight(dt.datetime(2026, 3, 29, 15, 0, tzinfo=dt.UTC)) == dt.datetime(2026, 3, 29, tzinfo=dt.UTC)
    assert clock.midnight(dt.datetime(2026, 3, 30, 9, 0, tzinfo=dt.UTC)) == dt.datetime(2026, 3, 29, 23,
                                                                                          tzinfo=dt.UTC)


def test_the_home_s_days_run_from_midnight_to_midnight_23_hours_on_the_day_summer_time_starts() -> None:
    clock = hometime.of({"time_zone": "Europe/London"})
    days = clock.days(dt.datetime(2026, 3, 28, 12, tzinfo=dt.UTC), dt.datetime(2026, 3, 30, 1, tzinfo=dt.UTC))
    assert days == [dt.datetime(2026, 3, 28, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, tzinfo=dt.UTC),
                    dt.datetime(2026, 3, 29, 23, tzinfo=dt.UTC)]


def test_the_home_s_hour_of_the_day_follows_its_clock_across_summer_time() -> None:
    """16:00 in London is 16:00 UTC in winter and 15:00 UTC in summer: both are the home's hour 16."""
    clock = hometime.of({"time_zone": "Europe/London"})
    winter = int(dt.datetime(2026, 1, 5, 16, tzinfo=dt.UTC).timestamp() * 1_000_000)
    summer = int(dt.datetime(2026, 7, 5, 15, tzinfo=dt.UTC).timestamp() * 1_000_000)
    assert (clock.hour_of_day(winter), clock.hour_of_day(summer)) == (16, 16)
    assert clock.clock(summer) == "16:00"


def test_without_ha_s_config_the_day_is_utc_s_and_the_answer_says_why() -> None:
    at = dt.datetime(2026, 12, 1, 20, 30, tzinfo=dt.UTC)
    for config in (None, {}, {"time_zone": None}, {"time_zone": ""}):
        clock = hometime.of(config)
        assert clock.midnight(at) == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        assert clock.describe() == {"name": "UTC", "source": "utc_fallback",
                                    "reason": "Home Assistant's configuration is not known yet"}


def test_a_zone_this_machine_does_not_know_falls_back_to_utc_naming_it() -> None:
    for name in ("Mars/Olympus_Mons", "../../etc/passwd"):
        found = hometime.of({"time_zone": name}).describe()
        assert (found["name"], found["source"]) == ("UTC", "utc_fallback")
        assert repr(name) in found["reason"]


def test_many_hours_at_once_are_each_the_hour_the_home_s_clock_shows() -> None:
    """A year of hours in zones with summer time, a half-hour offset and a half-hour change (Lord Howe), read at
    once, are the hours read one by one."""
    first = int(dt.datetime(2025, 12, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
    hours = [first + h * hometime.HOUR_US for h in range(366 * 24)]
    for name in ("Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"):
        clock = hometime.of({"time_zone": name})
        assert clock.hours_of_day(hours) == {h: clock.hour_of_day(h) for h in hours}, name


@pytest.fixture
def no_system_zones() -> Iterator[None]:
    """A function image on python's slim base: no /usr/share/zoneinfo, only the pinned tzdata package."""
    zoneinfo.reset_tzpath(to=[])
    zoneinfo.ZoneInfo.clear_cache()
    yield
    zoneinfo.reset_tzpath()
    zoneinfo.ZoneInfo.clear_cache()


def test_the_home_s_zone_is_known_without_the_system_s_time_zone_database(no_system_zones: None) -> None:
    clock = hometime.of({"time_zone": "Pacific/Auckland"})
    assert clock.source == hometime.HOME_ASSISTANT
    at = dt.datetime(2026, 12, 1, 20, 30, tzinfo=dt.UTC)
    assert clock.midnight(at) == dt.datetime(2026, 12, 1, 11, tzinfo=dt.UTC)
