"""The rules that read the event store find the same problems, with the same figures, on every backend (SQLite,
PostgreSQL, InfluxDB 1.x), the energy rule reading their hourly buckets; the alerts and their history outlive a
restart of the process on either metadata DB (SQLite, PostgreSQL), and an alert already open is not opened twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from ingestor import hometime, normalization
from ingestor.alerts.evaluate import store_findings
from ingestor.alerts.rules import Finding
from ingestor.alerts.settings import Settings
from ingestor.alerts.store import AlertStore
from ingestor.energy.meters import ENERGY_UNITS, POWER_UNITS
from ingestor.metadata.registry import MetadataDB
from ingestor.metadata.schema import entities
from ingestor.store import open_event_store
from tests.support.ha_events import state_changed
from tests.support.servers import store_url

pytestmark = pytest.mark.integration
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SETTINGS = Settings(silent_baseline_s=7200, silent_factor=5, silent_min_s=900, silent_min_events=12,
                    unavailable_window_s=3600, unavailable_count=5, battery_pct=15, energy_days=14, energy_min_days=7,
                    energy_sigma=4, energy_min_delta=0.25)
HOUR = NOW.replace(minute=0, second=0) - dt.timedelta(hours=1)  # the last whole hour
POWER = {"sensor.kettle_power": "W", "sensor.fridge_power": "W", "sensor.new_heater_power": "W"}


def power(entity: str, watts: float, at: dt.datetime) -> dict[str, Any]:
    return normalization.normalize_event(state_changed(entity, "0", str(watts), at, unit="W"))


def hourly(entity: str, days: range, watts: Any, last: float) -> list[dict[str, Any]]:
    """Two readings in the same hour of each earlier day (`watts(day)`), two in the last whole hour (`last`)."""
    at = [HOUR - dt.timedelta(days=d) + dt.timedelta(minutes=m) for d in days for m in (10, 40)]
    return [*(power(entity, watts(i // 2 + days.start), t) for i, t in enumerate(at)),
            power(entity, last, HOUR + dt.timedelta(minutes=5)), power(entity, last, HOUR + dt.timedelta(minutes=50))]


def event(entity: str, state: str, minutes_ago: float, unit: str | None = "°C") -> dict[str, Any]:
    return normalization.normalize_event(state_changed(entity, "0", state, NOW - dt.timedelta(minutes=minutes_ago),
                                                       unit=unit))


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1"])
def events(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    store = open_event_store(store_url(request.param, tmp_path, request))
    store.write([
        # every 5 minutes, then nothing for 55 minutes: 12 events in the 2 h baseline (usual interval 600 s)
        *(event("sensor.quiet", str(i), 55 + 5 * i) for i in range(12)),
        *(event("sensor.quiet", str(i), 122 + 5 * i) for i in range(8)),  # before the baseline: not counted
        # every 6 minutes up to a minute ago
        *(event("sensor.steady", str(i), 1 + 6 * i) for i in range(19)),
        # five times unavailable in the last hour, and once before it
        *(event("binary_sensor.door", s, m, None) for s, m in
          [("unavailable", 5), ("on", 6), ("unavailable", 10), ("unknown", 20), ("on", 21), ("unavailable", 30),
           ("unavailable", 50), ("unavailable", 70)]),
        event("sensor.phone_battery", "40", 30, "%"), event("sensor.phone_battery", "9", 3, "%"),
        event("sensor.remote_battery", "80", 3, "%"),
        # 101..108 W in this hour on the 8 days before; 900 W now: an outlier. 104 W now: not
        *hourly("sensor.kettle_power", range(1, 9), lambda d: 100 + d, 900),
        *hourly("sensor.fridge_power", range(1, 9), lambda d: 100 + d, 104),
        # only 3 earlier days (7 needed): no usual range yet
        *hourly("sensor.new_heater_power", range(1, 4), lambda d: 50, 2000),
    ])
    yield store
    store.close()


def test_silence_unavailable_spikes_and_low_batteries_are_found_with_their_figures(events: Any) -> None:
    found = {f.key: f for f in store_findings(events, NOW, SETTINGS, POWER)}
    assert set(found) == {("sensor_silent", "sensor.quiet"), ("unavailable_spike", "binary_sensor.door"),
                          ("low_battery", "sensor.phone_battery"), ("energy_outlier", "sensor.kettle_power")}
    quiet = found["sensor_silent", "sensor.quiet"].evidence
    assert (quiet["events_in_baseline"], quiet["usual_interval_s"], quiet["silent_s"], quiet["threshold_s"]) \
        == (12, 600.0, 3300.0, 3000.0), quiet
    assert found["unavailable_spike", "binary_sensor.door"].evidence["count"] == 5
    assert found["low_battery", "sensor.phone_battery"].evidence["level"] == 9.0
    kettle = found["energy_outlier", "sensor.kettle_power"].evidence
    assert (kettle["value"], kettle["usual_mean"], kettle["usual_stdev"], kettle["days"], kettle["unit"]) \
        == (900.0, 104.5, 2.291, 8, "W"), kettle
    assert (kettle["usual_min"], kettle["usual_max"]) == (101.0, 108.0)


def test_a_power_reading_is_held_against_the_same_hour_of_the_home_s_day_across_the_clocks_going_back(
        events: Any) -> None:
    """New York left summer time at 06:00 UTC on 1 November 2026: its 17:00 was 21:00 UTC before, 22:00 UTC after.
    A heater drawing ~1 kW every day from 17:00 on the home's clock and 100 W at 17:00 on 8 November is found
    against its 14 days of 17:00, named on the home's clock; held against the UTC hour, its usual range would mix
    seven days of 18:00 (100 W) in and find nothing."""
    clock = hometime.of({"time_zone": "America/New_York"})
    heater, last = "sensor.porch_heater_power", dt.datetime(2026, 11, 8, 22, tzinfo=dt.UTC)  # 17:00 EST
    readings, usual = [], []
    for h in range(1, 15 * 24 + 2):
        start = last - h * dt.timedelta(hours=1)
        evening = clock.hour_of_day(int(start.timestamp() * 1_000_000)) == 17
        watts = (1000.0 if evening else 100.0) + h % 7
        usual += [watts] if evening and h <= 14 * 24 + 1 else []
        readings += [power(heater, watts, start + dt.timedelta(minutes=m)) for m in (10, 40)]
    events.write([*readings, *(power(heater, 100.0, last + dt.timedelta(minutes=m)) for m in (5, 50))])
    now = last + dt.timedelta(hours=1, minutes=10)
    found = {f.key: f for f in store_findings(events, now, SETTINGS, {heater: "W"}, clock=clock)}
    outlier = found["energy_outlier", heater]
    assert len(usual) == 14
    assert (outlier.evidence["days"], outlier.evidence["usual_min"], outlier.evidence["usual_max"]) \
        == (14, min(usual), max(usual))
    assert (outlier.evidence["local_hour"], outlier.evidence["time_zone"]) == ("17:00", "America/New_York")
    assert "100 W from 17:00 (America/New_York), below its usual" in outlier.summary
    by_utc = {f.key for f in store_findings(events, now, SETTINGS, {heater: "W"})}
    assert ("energy_outlier", heater) not in by_utc, "UTC's 22:00 was the home's 18:00 before 1 November"


def test_an_energy_meter_s_hour_far_outside_its_usual_range_is_found_across_its_daily_resets(events: Any) -> None:
    """A daily utility meter in Wh (a new cycle from zero at each UTC midnight), read every 15 min: ~0.5 kWh in this
    hour of the day on 14 days, 3 kWh in the last one. Its energy per hour is HA's (the rises, across the resets),
    in kWh; a meter whose hour is as usual raises nothing."""
    dryer, steady = "sensor.dryer_energy", "sensor.fridge_energy"
    usual: list[float] = []
    readings = []
    for meter, hot in ((dryer, 3000.0), (steady, None)):
        value = 0.0
        for h in range(15 * 24, -1, -1):
            start = HOUR - h * dt.timedelta(hours=1)
            days_ago = h // 24
            wh = (hot if h == 0 and hot else 500.0 + 10 * (days_ago % 5)) if start.hour == HOUR.hour else 100.0
            if meter == dryer and start.hour == HOUR.hour and 1 <= days_ago <= 14 and h % 24 == 0:
                usual.append(wh / 1000)
            for quarter in range(4):
                at = start + dt.timedelta(minutes=15 * quarter + 7)
                value = wh / 4 if at.hour == 0 and at.minute == 7 else value + wh / 4  # a new cycle at midnight
                readings.append(normalization.normalize_event(state_changed(meter, "0", f"{value:.3f}", at,
                                                                            unit="Wh")))
    events.write(readings)
    found = {f.key: f for f in store_findings(events, NOW, SETTINGS, meters={dryer: "Wh", steady: "Wh"})}
    outlier = found["energy_outlier", dryer]
    assert ("energy_outlier", steady) not in found
    assert (outlier.evidence["value"], outlier.evidence["unit"], outlier.evidence["days"]) == (3.0, "kWh", 14)
    assert outlier.evidence["usual_mean"] == pytest.approx(sum(usual) / len(usual), abs=1e-3)
    assert f"{dryer} used 3 kWh from " in outlier.summary


def test_a_silent_sensor_stays_silent_after_its_events_leave_the_baseline_window(events: Any) -> None:
    later = NOW + dt.timedelta(hours=3)  # sensor.quiet's events are all older than the 2 h baseline now
    assert ("sensor_silent", "sensor.quiet") not in {f.key for f in store_findings(events, later, SETTINGS)}, \
        "no open alert: no baseline, no usual interval"
    (still,) = [f for f in store_findings(events, later, SETTINGS, open_usual={"sensor.quiet": 600.0})
                if f.rule == "sensor_silent"]
    assert (still.subject, still.evidence["usual_interval_s"], still.evidence["silent_s"]) \
        == ("sensor.quiet", 600.0, 3300.0 + 3 * 3600)


def test_a_silent_sensor_that_sends_again_is_no_longer_silent(events: Any) -> None:
    later = NOW + dt.timedelta(hours=3)
    events.write([event("sensor.quiet", "1", -3 * 60 + 1)])  # a minute before `later`
    found = store_findings(events, later, SETTINGS, open_usual={"sensor.quiet": 600.0})
    assert ("sensor_silent", "sensor.quiet") not in {f.key for f in found}


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/metadata.db" if request.param == "sqlite" \
        else request.getfixturevalue("postgres").new_database()


def test_alerts_and_their_history_outlive_a_restart(metadata_url: str) -> None:
    first = AlertStore(metadata_url)
    down = Finding("store_down", "event-store", "critical", "the event store is down", {"reasons": ["refused"]})
    lag = Finding("pipeline_lag", "nats", "warning", "the pipeline is lagging", {})
    assert first.apply([down, lag], [], "2026-11-30T10:00:00.000000Z") == [down, lag]
    (ended,) = [a for a in first.active() if a.rule == "pipeline_lag"]
    first.apply([], [(ended, {"resolved": True})], "2026-11-30T10:05:00.000000Z")
    first.engine.dispose()

    again = AlertStore(metadata_url)  # a new process
    assert [(a.rule, a.ended_at) for a in again.active()] == [("store_down", None)]
    history = again.history(10)
    assert sorted((a.rule, a.started_at, a.ended_at) for a in history) == [
        ("pipeline_lag", "2026-11-30T10:00:00.000000Z", "2026-11-30T10:05:00.000000Z"),
        ("store_down", "2026-11-30T10:00:00.000000Z", None)]
    assert {a.rule: a.evidence for a in history} == {"store_down": {"reasons": ["refused"]}, "pipeline_lag": {}}
    assert again.history(1) == history[:1] and again.history(1, history[0].id) == history[1:], "paged"
    assert again.apply([down], [], "2026-11-30T10:06:00.000000Z") == [], "already open: not opened twice"
    assert len(again.history(10)) == 2


def test_the_power_sensors_are_the_registry_sensors_in_a_unit_of_power(metadata_url: str) -> None:
    alerts = AlertStore(metadata_url)
    alerts.active()  # the metadata DB migrated
    rows = [("sensor.kettle_power", "sensor", "W", None), ("sensor.heat_pump", "sensor", "kW", None),
            ("sensor.grid", "sensor", "MW", None), ("sensor.meter", "sensor", "kWh", None),
            ("switch.kettle", "switch", "W", None),
            ("sensor.old_plug", "sensor", "W", "2026-11-01T00:00:00.000000Z")]
    with alerts.transaction(write=True) as conn:
        conn.execute(insert(entities), [{"entity_id": e, "domain": d, "unit_of_measurement": u, "removed_at": r,
                                         "in_registry": True} for e, d, u, r in rows])
    assert alerts.sensors_in(POWER_UNITS) == {"sensor.kettle_power": "W", "sensor.heat_pump": "kW",
                                             "sensor.grid": "MW"}
    assert alerts.sensors_in(ENERGY_UNITS) == {"sensor.meter": "kWh"}, "the energy meters"


def test_the_home_s_clock_is_ha_s_configured_time_zone_as_metadata_sync_keeps_it(metadata_url: str) -> None:
    alerts = AlertStore(metadata_url)
    alerts.active()  # the metadata DB migrated
    assert alerts.home_clock().describe()["source"] == "utc_fallback", "no snapshot of HA yet"
    db = MetadataDB(metadata_url)
    db.apply([{"snapshot_id": "s1", "part": 1, "parts": 1, "fetched_at": "2026-11-20T00:00:00Z", "type": "config",
               "items": [{"time_zone": "Pacific/Auckland", "latitude": -36.85, "longitude": 174.76}]}])
    db.engine.dispose()
    assert alerts.home_clock().describe() == {"name": "Pacific/Auckland", "source": "home_assistant"}
