"""GET /energy/summary, /energy/hourly and /energy/correlation, served by the query function over SQLite,
PostgreSQL and InfluxDB 1.x, checked against figures worked out in the test from the raw readings
(tests/queries/energy_home.py): a meter reset, a missing hour, Wh and kWh meters, known correlations."""

from __future__ import annotations

import datetime as dt
import functools
import random
import zoneinfo
from collections.abc import Callable, Iterator

import pytest

from ingestor.metadata.registry import MetadataDB
from ingestor.store import open_event_store
from ingestor.timeutil import parse_timestamp
from tests.queries import energy_home
from tests.queries.conftest import Served
from tests.queries.energy_home import DRYER, HEATER, HOME, HOUR, HOURS, KETTLE, MIN, MISSING_HOUR, RESET_HOUR
from tests.support.function import served
from tests.support.runtime import REPO
from tests.support.servers import store_url

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def home() -> energy_home.EnergyHome:
    return energy_home.build()


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "influxdb1"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        home: energy_home.EnergyHome) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"energy-{request.param}")
    events_url = store_url(request.param, folder, request)
    metadata_url = f"sqlite:///{folder}/metadata.db"
    store = open_event_store(events_url)
    store.write(home.records)
    store.close()
    load_metadata(metadata_url)
    env = {"EVENT_STORE_URL": events_url, "METADATA_DB_URL": metadata_url, "SECRETS_DIR": str(folder / "secrets")}
    with served(REPO / "functions" / "query", "query", folder / "query.log", env) as url:
        yield Served(url, request.param, home, events_url, metadata_url)  # type: ignore[arg-type]


def load_metadata(url: str) -> None:
    db = MetadataDB(url)
    db.apply(energy_home.registry_parts())
    db.engine.dispose()


def window(home: energy_home.EnergyHome) -> dict[str, str]:
    return {"start": home.t0.isoformat(), "end": (home.t0 + HOURS * HOUR).isoformat()}


def hour_of(home: energy_home.EnergyHome, stamp: str) -> int:
    return int((parse_timestamp(stamp) - home.t0) / HOUR)


def test_summary_gives_each_meter_s_energy_across_its_reset_and_its_missing_hour(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/summary", **window(home))
    expected = {e: sum(home.meter_hours(e).values()) for e in energy_home.METERS}
    got = {m["entity_id"]: m for m in body["meters"]}
    assert set(got) == set(energy_home.METERS)
    for entity_id, kwh in expected.items():
        assert got[entity_id]["energy_kwh"] == pytest.approx(kwh, abs=TOLERANCE)
    assert body["total_kwh"] == pytest.approx(sum(expected.values()), abs=TOLERANCE)
    assert (got[HOME]["resets"], got[KETTLE]["resets"], got[DRYER]["resets"]) == (1, 0, 1)
    assert body["unit"] == "kWh"


def test_summary_over_whole_days_reads_days_and_matches_the_raw_readings(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    first = (home.t0 + 24 * HOUR).replace(hour=0)  # the first UTC midnight after T0
    body = api.ok("/energy/summary", start=first.isoformat(), end=(first + 24 * HOUR).isoformat())
    hours = {h for h in range(HOURS) if first <= home.t0 + h * HOUR < first + 24 * HOUR}
    got = {m["entity_id"]: m["energy_kwh"] for m in body["meters"]}
    for meter in energy_home.METERS:
        rose = home.meter_hours(meter)
        assert got[meter] == pytest.approx(sum(rose.get(h, 0.0) for h in hours), abs=TOLERANCE), meter
    assert body["resolution"].startswith("1d")


@pytest.fixture
def home_zone(api: Served) -> Iterator[Callable[[str | None], None]]:
    """Sets the time zone of HA's config (None: no config yet); the module's other tests run without one."""
    yield functools.partial(energy_home.set_home_zone, api.metadata_url)
    energy_home.set_home_zone(api.metadata_url, None)


def test_today_by_default_is_the_home_s_day_in_ha_s_time_zone_not_utc_s(
        api: Served, home_zone: Callable[[str | None], None]) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    before = dt.datetime.now(dt.UTC)
    zone = energy_home.a_zone_on_another_day(before)
    home_zone(zone)
    body = api.ok("/energy/summary")
    after = dt.datetime.now(dt.UTC)
    start = parse_timestamp(body["start"])
    assert start in (energy_home.local_midnight(zone, before), energy_home.local_midnight(zone, after))
    assert start != before.replace(hour=0, minute=0, second=0, microsecond=0)
    assert body["time_zone"] == {"name": zone, "source": "home_assistant"}
    got = {m["entity_id"]: m["energy_kwh"] for m in body["meters"]}
    for meter in energy_home.METERS:
        rose = home.meter_hours(meter)
        expected = sum(kwh for h, kwh in rose.items() if home.t0 + h * HOUR >= start)
        assert got[meter] == pytest.approx(expected, abs=TOLERANCE), meter


def test_today_is_utc_s_day_only_while_ha_s_config_is_not_known_and_the_answer_says_so(
        api: Served, home_zone: Callable[[str | None], None]) -> None:
    home_zone(None)
    before = dt.datetime.now(dt.UTC)
    body = api.ok("/energy/summary")
    after = dt.datetime.now(dt.UTC)
    assert parse_timestamp(body["start"]) in {t.replace(hour=0, minute=0, second=0, microsecond=0)
                                              for t in (before, after)}
    assert body["time_zone"] == {"name": "UTC", "source": "utc_fallback",
                                 "reason": "Home Assistant's configuration is not known yet"}


def test_a_shift_recommendation_names_the_peak_on_the_home_s_clock(
        api: Served, home_zone: Callable[[str | None], None]) -> None:
    """Auckland is UTC+13 in summer: the peak that UTC reads as 03:00-06:00 is the home's 16:00-19:00."""
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    utc = {i["entity_id"]: i["figures"] for i in api.ok("/energy/recommendations", **window(home))["items"]
           if i["kind"] == "shift"}
    home_zone("Pacific/Auckland")
    body = api.ok("/energy/recommendations", **window(home))
    local = {i["entity_id"]: i for i in body["items"] if i["kind"] == "shift"}
    assert body["time_zone"] == {"name": "Pacific/Auckland", "source": "home_assistant"}
    offset = zoneinfo.ZoneInfo("Pacific/Auckland").utcoffset(home.t0)
    assert offset is not None and offset.total_seconds() % 3600 == 0
    for meter, figures in utc.items():
        first = int(figures["peak_window"][:2])
        shown = f"{(first + int(offset.total_seconds() // 3600)) % 24:02d}:00"
        assert local[meter]["figures"]["peak_window"].startswith(shown)
        assert local[meter]["figures"]["peak_kwh"] == figures["peak_kwh"], "the same hours, on another clock"
        assert "(Pacific/Auckland)" in local[meter]["text"]


def test_summary_ranks_top_consumers_with_shares_summing_to_one(api: Served) -> None:
    body = api.ok("/energy/summary", **window(api.home))  # type: ignore[arg-type]
    energies = [m["energy_kwh"] for m in body["meters"]]
    assert energies == sorted(energies, reverse=True)
    assert sum(m["share"] for m in body["meters"]) == pytest.approx(1.0, abs=TOLERANCE)
    assert body["meters"][0]["share"] == pytest.approx(energies[0] / sum(energies), abs=TOLERANCE)


def test_summary_shows_the_latest_readings_in_the_units_ha_shows(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/summary", **window(home))
    got = {m["entity_id"]: m["reading"] for m in body["meters"]}
    last_kettle = home.readings[KETTLE][-1]
    assert (got[KETTLE]["value"], got[KETTLE]["unit"]) == (last_kettle[1], "Wh")
    assert parse_timestamp(got[KETTLE]["time"]) == last_kettle[0]
    assert got[HOME]["unit"] == "kWh"
    [power] = body["power"]
    assert (power["entity_id"], power["name"]) == (HEATER, "Heater Power")
    assert (power["current"]["value"], power["current"]["unit"]) == (energy_home.HEATER_NOW, "W")
    assert parse_timestamp(power["current"]["time"]) == home.readings[HEATER][-1][0]


def test_a_power_sensor_silent_since_before_the_range_still_shows_its_last_reading(api: Served) -> None:
    """Just after midnight "today" holds no power reading yet, but the heater still draws what it last reported."""
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    last_at, last_watts = home.readings[HEATER][-1]
    end = home.t0 + HOURS * HOUR
    body = api.ok("/energy/summary", start=(last_at + MIN).isoformat(), end=end.isoformat())
    [power] = body["power"]
    assert (power["current"]["value"], parse_timestamp(power["current"]["time"])) == (last_watts, last_at)


def test_hourly_energy_over_ranges_cut_anywhere_matches_the_raw_readings(api: Served) -> None:
    """The dashboard's ranges end now: an hour cut at either end holds the energy of its own part's readings."""
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    rng = random.Random(21)
    for trial in range(8):
        first = rng.randrange(HOURS * 60 - 90)
        start = home.t0 + first * MIN
        end = start + rng.randrange(61, HOURS * 60 - first) * MIN
        body = api.ok("/energy/hourly", bucket="1h", start=start.isoformat(), end=end.isoformat())
        got = {hour_of(home, p["t"]): p["energy_kwh"] for p in body["points"] if p["energy_kwh"] is not None}
        expected = home.hours_within(start, end)
        assert got == {h: pytest.approx(kwh, abs=TOLERANCE) for h, kwh in expected.items()}, (trial, start, end)


def test_hourly_energy_cost_and_carbon_match_the_raw_readings_and_stored_prices(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/hourly", bucket="1h", **window(home))
    assert len(body["points"]) == HOURS
    assert body["units"] == {"energy": "kWh", "price": "p/kWh", "cost": "p", "carbon_intensity": "gCO2/kWh",
                             "carbon": "gCO2"}
    energy = home.hourly()
    for p in body["points"]:
        h = hour_of(home, p["t"])
        assert p["energy_kwh"] == pytest.approx(energy[h], abs=TOLERANCE)
        assert p["price"] == pytest.approx(home.price[h], abs=TOLERANCE)
        assert p["cost"] == pytest.approx(energy[h] * home.price[h], abs=TOLERANCE)
        assert p["carbon"] == pytest.approx(energy[h] * home.carbon[h], abs=TOLERANCE)
    assert body["total_cost"] == pytest.approx(sum(energy[h] * home.price[h] for h in energy), abs=1e-4)


def test_an_hour_without_readings_is_null_and_the_next_holds_what_the_meter_rose_meanwhile(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/hourly", bucket="1h", entity_id=HOME, **window(home))
    points = {hour_of(home, p["t"]): p for p in body["points"]}
    assert points[MISSING_HOUR]["energy_kwh"] is None and points[MISSING_HOUR]["cost"] is None
    rose = home.meter_hours(HOME)
    assert points[MISSING_HOUR + 1]["energy_kwh"] == pytest.approx(rose[MISSING_HOUR + 1], abs=TOLERANCE)
    two_hours = 6 * energy_home.home_rise(MISSING_HOUR) + 6 * energy_home.home_rise(MISSING_HOUR + 1)
    assert points[MISSING_HOUR + 1]["energy_kwh"] == pytest.approx(two_hours, abs=TOLERANCE)
    assert points[RESET_HOUR]["energy_kwh"] == pytest.approx(rose[RESET_HOUR], abs=TOLERANCE)
    assert body["entities"] == [HOME]


def test_a_daily_meter_s_new_cycle_at_the_hour_counts_from_zero(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/hourly", bucket="1h", entity_id=DRYER, **window(home))
    points = {hour_of(home, p["t"]): p["energy_kwh"] for p in body["points"]}
    rose = home.meter_hours(DRYER)
    assert points[energy_home.DAILY_RESET_HOUR] == pytest.approx(0.23, abs=TOLERANCE)  # 0.03 + 0.1 + 0.1
    assert points == {h: pytest.approx(rose[h], abs=TOLERANCE) for h in range(HOURS)}


def test_daily_energy_and_cost_are_the_sums_of_their_hours(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/hourly", bucket="1d", **window(home))
    energy = home.hourly()
    days: dict[dt.datetime, list[float]] = {}
    for h, kwh in energy.items():
        at = home.t0 + h * HOUR
        day = days.setdefault(at.replace(hour=0), [0.0, 0.0])
        day[0] += kwh
        day[1] += kwh * home.price[h]
    got = {parse_timestamp(p["t"]): (p["energy_kwh"], p["cost"]) for p in body["points"]}
    assert set(got) == set(days)
    for day, (kwh, cost) in days.items():
        assert got[day] == (pytest.approx(kwh, abs=TOLERANCE), pytest.approx(cost, abs=TOLERANCE))


def test_days_are_the_home_s_days_from_its_midnights_in_ha_s_time_zone(
        api: Served, home_zone: Callable[[str | None], None]) -> None:
    """Auckland is UTC+13 in summer: its days start at 11:00 UTC, and each day's energy and cost are the sums of
    the hours from that midnight to the next."""
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    home_zone("Pacific/Auckland")
    body = api.ok("/energy/hourly", bucket="1d", **window(home))
    zone = zoneinfo.ZoneInfo("Pacific/Auckland")
    days: dict[dt.datetime, list[float]] = {}
    for h, kwh in home.hourly().items():
        day = energy_home.local_midnight("Pacific/Auckland", home.t0 + h * HOUR)
        totals = days.setdefault(day, [0.0, 0.0])
        totals[0] += kwh
        totals[1] += kwh * home.price[h]
    got = {parse_timestamp(p["t"]): (p["energy_kwh"], p["cost"]) for p in body["points"]}
    assert set(got) == set(days) and all(day.astimezone(zone).hour == 0 for day in got)
    for day, (kwh, cost) in days.items():
        assert got[day] == (pytest.approx(kwh, abs=TOLERANCE), pytest.approx(cost, abs=TOLERANCE))
    assert body["time_zone"] == {"name": "Pacific/Auckland", "source": "home_assistant"}


def test_correlation_gives_the_known_coefficient_with_its_hours_and_significance(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/correlation", **window(home))
    factors = {f["factor"]: f for f in body["factors"]}
    whole = home.whole_hours()
    assert MISSING_HOUR not in whole and MISSING_HOUR + 1 not in whole and 0 not in whole
    temperature = factors["temperature"]
    assert temperature["n"] == len(whole) == body["energy_hours"]
    assert temperature["r"] == pytest.approx(energy_home.TEMPERATURE_R, abs=TOLERANCE)
    assert temperature["significant"] is True and temperature["p_value"] < 0.05
    assert temperature["unit"] == "°C"
    energy = home.hourly()
    price = factors["price"]
    assert price["r"] == pytest.approx(energy_home.pearson([energy[h] for h in whole],
                                                           [home.price[h] for h in whole]), abs=TOLERANCE)
    assert price["n"] == len(whole)


def test_correlation_of_a_range_without_data_has_no_coefficient_and_says_n_is_zero(api: Served) -> None:
    body = api.ok("/energy/correlation", start="2001-01-01T00:00:00Z", end="2001-01-08T00:00:00Z")
    assert [(f["r"], f["n"], f["significant"]) for f in body["factors"]] == [(None, 0, False)] * 3


def test_a_range_too_long_for_hours_is_given_in_days(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/hourly", start=(home.t0 - 365 * 24 * HOUR).isoformat(),
                  end=(home.t0 + HOURS * HOUR).isoformat())
    assert body["bucket_s"] == 86400 and len(body["points"]) in (367, 368)
    assert body["total_kwh"] == pytest.approx(sum(home.hourly().values()), abs=TOLERANCE)


def test_an_entity_that_is_no_meter_is_refused(api: Served) -> None:
    reply = api.get("/energy/hourly", entity_id=HEATER)
    assert reply.status == 400 and "not an energy meter" in reply.body.decode()


def test_a_device_s_impact_compares_the_hours_it_was_on_with_those_it_was_off(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/impact", device=energy_home.SWITCH, **window(home))
    energy = home.hourly()
    whole = home.whole_hours()
    on = [energy[h] for h in whole if energy_home.switch_on(h) >= 0.5]
    off = [energy[h] for h in whole if energy_home.switch_on(h) < 0.5]
    assert (body["hours_on"], body["hours_off"]) == (len(on), len(off))
    assert body["on_hours"] == pytest.approx(sum(energy_home.switch_on(h) for h in range(HOURS)), abs=TOLERANCE)
    assert body["mean_on"] == pytest.approx(sum(on) / len(on), abs=TOLERANCE)
    assert body["mean_off"] == pytest.approx(sum(off) / len(off), abs=TOLERANCE)
    per_hour = sum(on) / len(on) - sum(off) / len(off)
    assert body["per_hour"] == pytest.approx(per_hour, abs=TOLERANCE)
    assert body["attributed"] == pytest.approx(per_hour * body["on_hours"], abs=TOLERANCE)


def test_a_device_with_too_few_hours_on_gets_no_impact_figure(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/impact", device=energy_home.SWITCH, start=(home.t0 + 3 * HOUR).isoformat(),
                  end=(home.t0 + 7 * HOUR).isoformat())
    assert body["hours_on"] < body["min_hours"]
    assert (body["per_hour"], body["attributed"]) == (None, None)
    assert body["mean_off"] is not None


def test_a_shift_recommendation_cites_the_meter_s_peak_energy_and_the_cheapest_window(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    body = api.ok("/energy/recommendations", **window(home))
    shifts = {i["entity_id"]: i for i in body["items"] if i["kind"] == "shift"}
    assert set(shifts) == set(energy_home.METERS)
    by_clock: dict[int, list[float]] = {}
    for h, price in home.price.items():
        by_clock.setdefault((home.t0 + h * HOUR).hour, []).append(price)
    profile = {c: sum(v) / len(v) for c, v in by_clock.items()}
    peak = max(range(24), key=lambda c: sum(profile[(c + i) % 24] for i in range(3)))
    cheap_price = min(sum(profile[(c + i) % 24] for i in range(2)) / 2 for c in range(24))
    for meter in energy_home.METERS:
        rose = home.meter_hours(meter)
        drawn = [(rose[h], home.price[h]) for h in home.read_hours(meter)
                 if ((home.t0 + h * HOUR).hour - peak) % 24 < 3]
        kwh = sum(k for k, _ in drawn)
        paid = sum(k * p for k, p in drawn) / kwh
        figures = shifts[meter]["figures"]
        assert figures["peak_kwh"] == pytest.approx(kwh, abs=TOLERANCE)
        assert figures["peak_price"] == pytest.approx(paid, abs=TOLERANCE)
        assert figures["cheap_price"] == pytest.approx(cheap_price, abs=TOLERANCE)
        assert figures["saving_per_week"] == pytest.approx(kwh * (paid - cheap_price) * 7 / 2, abs=TOLERANCE)
        assert f"{kwh:.1f} kWh" in shifts[meter]["text"] and "p/kWh" in shifts[meter]["text"]
        assert shifts[meter]["based_on"] == {"meter": meter, "price_hours": HOURS, "days": 2, "price_unit": "p/kWh",
                                             "time_zone": "UTC"}


def test_an_entity_often_unavailable_is_named_with_its_count_and_a_rare_one_is_not(api: Served) -> None:
    body = api.ok("/energy/recommendations", **window(api.home))  # type: ignore[arg-type]
    down = [(i["entity_id"], i["figures"]["count"]) for i in body["items"] if i["kind"] == "unavailable"]
    assert down == [(energy_home.LIVING, energy_home.LIVING_DOWN)]
    assert f"'unavailable' {energy_home.LIVING_DOWN} times in these 2 days:" in body["items"][-1]["text"]
    assert body["items"][-1]["based_on"] == {"events": energy_home.LIVING_DOWN, "state": "unavailable",
                                             "range": "2 days"}


def test_no_recommendation_rests_on_too_little_data(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    one_day = {"start": home.t0.isoformat(), "end": (home.t0 + 24 * HOUR).isoformat()}
    kinds = [i["kind"] for i in api.ok("/energy/recommendations", **one_day)["items"]]
    assert "shift" not in kinds, "a price for each hour of the day on one day only"
    two_days = api.ok("/energy/recommendations", **window(home))["items"]
    temperature = api.ok("/energy/correlation", **window(home))["factors"][0]
    assert temperature["significant"] and temperature["n"] < 48
    assert "temperature" not in [i["kind"] for i in two_days], "a significant r over fewer than 48 hours"


def test_a_week_s_saving_is_reckoned_over_the_days_that_have_prices_not_the_whole_range(api: Served) -> None:
    home: energy_home.EnergyHome = api.home  # type: ignore[assignment]
    week = {"start": (home.t0 - 5 * 24 * HOUR).isoformat(), "end": (home.t0 + HOURS * HOUR).isoformat()}
    longer = {i["entity_id"]: i["figures"] for i in api.ok("/energy/recommendations", **week)["items"]
              if i["kind"] == "shift"}
    exact = {i["entity_id"]: i["figures"] for i in api.ok("/energy/recommendations", **window(home))["items"]
             if i["kind"] == "shift"}
    assert longer == exact
