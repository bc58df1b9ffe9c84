"""The home's own clock: "today", "the 16:00–19:00 peak" and "the same hour yesterday" are the home's, in the
time zone Home Assistant is configured with (metadata-sync keeps HA's config: MetadataDB.ha_config), not UTC's.
A home in Auckland asking at 09:00 local for today wants its own morning, not the UTC day that began at 13:00
yesterday. UTC is used only when HA's config is not known yet (or names a zone this machine's time zone database
lacks), and every answer that depends on it says which clock it used (`describe`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

HOME_ASSISTANT = "home_assistant"  # the zone of HA's config
UTC_FALLBACK = "utc_fallback"  # HA's config unknown, or its zone unknown here
HOUR_US = 3600 * 1_000_000
DAY_US = 24 * HOUR_US


@dataclass(frozen=True)
class HomeClock:
    zone: dt.tzinfo
    name: str
    source: str
    reason: str | None = None

    def midnight(self, at: dt.datetime) -> dt.datetime:
        """The start (UTC) of the home's day holding `at`: its local midnight, whatever the UTC date."""
        local = at.astimezone(self.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)

    def days(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """The starts (UTC) of the home's days that overlap [start, end): its midnights, 23 or 25 hours apart
        across a change of summer time."""
        found = []
        day = self.midnight(start).astimezone(self.zone).date()
        while (at := dt.datetime.combine(day, dt.time(), self.zone).astimezone(dt.UTC)) < end:
            found.append(at)
            day += dt.timedelta(days=1)
        return found

    def local(self, micros: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(micros / 1_000_000, dt.UTC).astimezone(self.zone)

    def hour_of_day(self, micros: int) -> int:
        """The home's hour of the day (0-23) at an instant (µs): where a UTC hour falls on the home's clock."""
        return self.local(micros).hour

    def hours_of_day(self, hours: list[int]) -> dict[int, int]:
        """The home's hour of the day of each of many UTC hour starts (µs), a year's in a few ms: the zone's offset
        is asked at each UTC day's first and last hour, and hour by hour only on a day where it changes."""
        found: dict[int, int] = {}
        offsets: dict[int, int | None] = {}
        for hour in hours:
            day = hour // DAY_US
            if day not in offsets:
                first, last = self._offset_us(day * DAY_US), self._offset_us(day * DAY_US + DAY_US - HOUR_US)
                offsets[day] = first if first == last else None
            offset = offsets[day]
            if offset is None:
                offset = self._offset_us(hour)
            found[hour] = (hour + offset) // HOUR_US % 24
        return found

    def _offset_us(self, micros: int) -> int:
        offset = self.local(micros).utcoffset()
        return int(offset.total_seconds() * 1_000_000) if offset is not None else 0

    def clock(self, micros: int) -> str:
        """An instant as the home's wall clock shows it, e.g. "16:00" (or "16:30" in a half-hour zone)."""
        return f"{self.local(micros):%H:%M}"

    def describe(self) -> dict[str, Any]:
        """What an answer says about the clock it used: the zone's name and where it came from."""
        found: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.reason:
            found["reason"] = self.reason
        return found


UTC_CLOCK = HomeClock(dt.UTC, "UTC", UTC_FALLBACK, "Home Assistant's configuration is not known yet")


def of(ha_config: dict[str, Any] | None) -> HomeClock:
    """The clock of HA's config (its `time_zone`), or UTC saying why not."""
    name = (ha_config or {}).get("time_zone")
    if not isinstance(name, str) or not name:
        return UTC_CLOCK
    try:
        return HomeClock(zoneinfo.ZoneInfo(name), name, HOME_ASSISTANT)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return HomeClock(dt.UTC, "UTC", UTC_FALLBACK, f"time zone {name[:64]!r} of Home Assistant's configuration "
                                                      "is not in this machine's time zone database")
