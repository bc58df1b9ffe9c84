"""What weather-enrich attaches: the latest values, each marked with its age; stale kept; absent null."""

from __future__ import annotations

import datetime as dt

from ingestor.context import enrich

NOW = dt.datetime(2026, 11, 23, 19, 0, tzinfo=dt.UTC)
WEATHER = {"values": {"temperature": 7.3, "humidity": 87.0, "pressure": 1009.6, "condition": "rain",
                      "wind_speed": 4.1}, "fetched_at": "2026-11-23T18:55:00.000000Z", "provider": "open-meteo",
           "ttl_s": 900}


def test_a_fresh_value_carries_its_fetch_time_and_age() -> None:
    values = enrich.current({"weather": WEATHER}, NOW, ["weather"])
    assert values == {"weather": {"temperature": 7.3, "humidity": 87.0, "pressure": 1009.6, "condition": "rain",
                                  "wind_speed": 4.1, "fetched_at": "2026-11-23T18:55:00.000000Z", "age_s": 300.0,
                                  "stale": False, "provider": "open-meteo"}}


def test_a_value_older_than_its_ttl_is_attached_and_marked_stale() -> None:
    values = enrich.current({"weather": WEATHER}, NOW + dt.timedelta(hours=2), ["weather"])
    assert values["weather"]["stale"] is True and values["weather"]["age_s"] == 7500.0
    assert values["weather"]["temperature"] == 7.3


def test_a_source_never_fetched_is_null() -> None:
    assert enrich.current({}, NOW, ["weather", "air_quality"]) == {"weather": None, "air_quality": None}


def test_attach_puts_each_source_under_its_own_key() -> None:
    record = {"event_id": "e", "weather": None}
    enrich.attach(record, {"weather": {"temperature": 1.0}, "carbon_intensity": None})
    assert record == {"event_id": "e", "weather": {"temperature": 1.0}, "carbon_intensity": None}
