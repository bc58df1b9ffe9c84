"""A home with two energy meters, a power sensor and the context series, and its energy worked out here from
the raw readings with HA's rule, independently of ingestor.energy.

48 hours from T0 (two days before the current hour): sensor.home_energy (kWh, every 10 min) resets to a new
cycle at RESET_HOUR:30 and has no reading at all in MISSING_HOUR (and one 'unavailable'); sensor.kettle_energy
(Wh, every 15 min); sensor.dryer_energy (kWh, every 20 min), a daily meter whose new cycle starts with the
first reading of DAILY_RESET_HOUR; sensor.heater_power (W); a temperature sensor that is no energy entity. Context: the
Agile price and carbon intensity every 30 min, outdoor temperature once an hour, built so that its Pearson r
with the hourly energy of the hours that have a whole hour's energy is exactly TEMPERATURE_R.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert

from ingestor import record
from ingestor.context import samples
from ingestor.context.carbon import CarbonIntensity
from ingestor.context.electricity import OctopusAgile
from ingestor.context.weather import OpenMeteoWeather
from ingestor.metadata.registry import MetadataDB
from ingestor.metadata.schema import settings
from ingestor.timeutil import format_timestamp
from ingestor.units import unit_name

HOURS = 48
RESET_HOUR = 20
MISSING_HOUR = 30
TEMPERATURE_R = 0.6
HOUR = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
HOME, KETTLE, DRYER, HEATER, LIVING = "sensor.home_energy", "sensor.kettle_energy", "sensor.dryer_energy", \
    "sensor.heater_power", "sensor.living_temperature"
DAILY_RESET_HOUR = 24  # sensor.dryer_energy's cycle starts again with this hour's first reading (HA's utility_meter)
METERS = {HOME: ("kWh", 1.0), KETTLE: ("Wh", 0.001), DRYER: ("kWh", 1.0)}  # unit, factor to kWh
ENTITIES = [  # entity_id, name, device_class, unit
    (HOME, "Home Energy", "energy", "kWh"), (KETTLE, "Kettle Energy", "energy", "Wh"),
    (DRYER, "Dryer Energy", "energy", "kWh"),
    (HEATER, "Heater Power", "power", "W"), (LIVING, "Living Temperature", "temperature", "°C")]
HEATER_NOW = 1234.5
LIVING_DOWN = 12  # times sensor.living_temperature reports 'unavailable'
SWITCH = "switch.heater"


def switch_on(hour: int) -> float:
    """The fraction of `hour` switch.heater is on: whole hours 1, 2 of every 6, and 46:45-47:15."""
    if hour in (46, 47):
        return 0.25
    return 1.0 if hour % 6 in (1, 2) else 0.0


@dataclass
class EnergyHome:
    t0: dt.datetime
    records: list[dict[str, Any]] = field(default_factory=list)
    readings: dict[str, list[tuple[dt.datetime, float | None]]] = field(default_factory=dict)
    price: dict[int, float] = field(default_factory=dict)  # hour index -> mean
    carbon: dict[int, float] = field(default_factory=dict)
    temperature: dict[int, float] = field(default_factory=dict)

    def meter_hours(self, entity_id: str) -> dict[int, float]:
        """HA's statistics of a total_increasing meter: each reading adds its rise over the previous one, or
        itself after a drop below 90 % (a new cycle); the first reading only sets the start. In kWh."""
        factor = METERS[entity_id][1]
        out: dict[int, float] = {}
        previous = None
        for at, value in self.readings[entity_id]:
            if value is None:
                continue
            hour = int((at - self.t0) / HOUR)
            out.setdefault(hour, 0.0)
            if previous is not None:
                out[hour] += (value if value < 0.9 * previous else value - previous) * factor
            previous = value
        return out

    def hourly(self, *entity_ids: str) -> dict[int, float]:
        total: dict[int, float] = {}
        for e in entity_ids or tuple(METERS):
            for hour, kwh in self.meter_hours(e).items():
                total[hour] = total.get(hour, 0.0) + kwh
        return total

    def hours_within(self, start: dt.datetime, end: dt.datetime) -> dict[int, float]:
        """The home's kWh per hour with a reading in [start, end): what the readings there added, each over the
        reading before it however old (an hour cut by the range counts only its own part's readings)."""
        out: dict[int, float] = {}
        for entity_id, (_, factor) in METERS.items():
            previous = None
            for at, value in self.readings[entity_id]:
                if value is None:
                    continue
                if start <= at < end:
                    hour = int((at - self.t0) // HOUR)
                    rose = 0.0 if previous is None else value if value < 0.9 * previous else value - previous
                    out[hour] = out.get(hour, 0.0) + rose * factor
                previous = value
        return out

    def read_hours(self, entity_id: str) -> list[int]:
        """Hours whose energy on this meter is theirs alone: a reading in them and in the hour before."""
        have = set(self.meter_hours(entity_id))
        return [h for h in sorted(have) if h - 1 in have]

    def whole_hours(self) -> list[int]:
        """Hours whose energy is theirs alone: every meter has a reading in them and in the hour before."""
        have = [set(self.meter_hours(e)) for e in METERS]
        return [h for h in range(HOURS) if all(h in s and h - 1 in s for s in have)]


def _id(entity_id: str, at: dt.datetime) -> str:
    return hashlib.md5(f"{entity_id}|{at.isoformat()}".encode()).hexdigest()


def _state(home: EnergyHome, entity_id: str, at: dt.datetime, value: float | None, device_class: str,
           unit: str) -> None:
    state = "unavailable" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")
    home.records.append(record.new(
        _id(entity_id, at), "state_changed", format_timestamp(at), origin="LOCAL", entity_id=entity_id,
        domain="sensor", state=state, state_value=None if value is None else float(state), unit=unit_name(unit),
        device_class=device_class, friendly_name=entity_id,
        attributes={"unit_of_measurement": unit, "device_class": device_class}))
    home.readings.setdefault(entity_id, []).append((at, None if value is None else float(state)))


def home_rise(hour: int) -> float:
    """How much sensor.home_energy rises every 10 minutes of `hour` (kWh)."""
    return 0.05 + 0.1 * ((hour * 7) % 11) / 10


def build(now: dt.datetime | None = None) -> EnergyHome:
    now = now or dt.datetime.now(dt.UTC)
    home = EnergyHome(now.replace(minute=0, second=0, microsecond=0) - HOURS * HOUR)
    t0 = home.t0
    value = 100.0
    for h in range(HOURS):
        for m in range(0, 60, 10):
            at = t0 + h * HOUR + m * MIN
            if h == RESET_HOUR and m == 30:
                value = 0.02  # a new meter cycle
            else:
                value += home_rise(h)
            if h == MISSING_HOUR:
                continue  # the meter counts on; nothing reached the store
            _state(home, HOME, at, value, "energy", "kWh")
            if h == 10 and m == 0:
                _state(home, HOME, at + 5 * MIN, None, "energy", "kWh")
    wh = 5000.0
    for h in range(HOURS):
        for m in range(0, 60, 15):
            wh += 10 + (40 if h % 5 == 0 else 0)
            _state(home, KETTLE, t0 + h * HOUR + m * MIN, wh, "energy", "Wh")
    dryer = 5.0
    for h in range(HOURS):
        for m in range(0, 60, 20):
            dryer = 0.03 if (h, m) == (DAILY_RESET_HOUR, 0) else dryer + 0.1
            _state(home, DRYER, t0 + h * HOUR + m * MIN, round(dryer, 6), "energy", "kWh")
    for h in range(HOURS):
        _state(home, HEATER, t0 + h * HOUR + 30 * MIN, HEATER_NOW if h == HOURS - 1 else 500.0 + h, "power", "W")
        _state(home, LIVING, t0 + h * HOUR + 30 * MIN, 20.0 + h % 3, "temperature", "°C")
        if h < LIVING_DOWN:
            _state(home, LIVING, t0 + h * HOUR + 45 * MIN, None, "temperature", "°C")
    for h in range(HOURS):
        if h % 6 in (1, 3) or h in (46, 47):
            at = t0 + h * HOUR + (45 * MIN if h == 46 else 15 * MIN if h == 47 else dt.timedelta(0))
            on = h % 6 == 1 or h == 46
            home.records.append(record.new(
                _id(SWITCH, at), "state_changed", format_timestamp(at), origin="LOCAL", entity_id=SWITCH,
                domain="switch", state="on" if on else "off", old_state="off" if on else "on"))
    agile, grid, weather = OctopusAgile("P", "T"), CarbonIntensity(), OpenMeteoWeather()
    for h in range(HOURS):
        price = [10 + 0.5 * (h % 24), 10.3 + 0.5 * (h % 24)]
        carbon = [140 + 5 * (h % 12), 160 + 5 * (h % 12)]
        home.price[h], home.carbon[h] = sum(price) / 2, sum(carbon) / 2
        for half in range(2):
            at = format_timestamp(t0 + h * HOUR + 30 * half * MIN)
            home.records += samples.records(agile, {"price": price[half]}, at)
            home.records += samples.records(grid, {"intensity": carbon[half]}, at)
    home.temperature = _with_correlation(home, TEMPERATURE_R)
    for h, celsius in home.temperature.items():
        home.records += samples.records(weather, {"temperature": celsius}, format_timestamp(t0 + h * HOUR + 20 * MIN))
    return home


def _with_correlation(home: EnergyHome, r: float) -> dict[int, float]:
    """An hourly series whose Pearson r with the energy of the whole hours is `r` (other hours: anything)."""
    hours = home.whole_hours()
    energy = home.hourly()
    x = [energy[h] for h in hours]
    mx = sum(x) / len(x)
    xc = [v - mx for v in x]
    z = [math.sin(1.7 * h) for h in hours]
    mz = sum(z) / len(z)
    zc = [v - mz for v in z]
    along = sum(a * b for a, b in zip(zc, xc, strict=True)) / sum(a * a for a in xc)
    zo = [b - along * a for a, b in zip(xc, zc, strict=True)]
    nx, nz = math.sqrt(sum(a * a for a in xc)), math.sqrt(sum(a * a for a in zo))
    y = {h: 10 + 3 * (r * a / nx + math.sqrt(1 - r * r) * b / nz) for h, a, b in zip(hours, xc, zo, strict=True)}
    return {h: y.get(h, 5.0 + h % 4) for h in range(HOURS)}


def pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sum((a - mx) ** 2 for a in xs) * sum((b - my) ** 2 for b in ys))


def registry_parts() -> list[dict[str, Any]]:
    base = {"snapshot_id": "energy-test", "parts": 2, "fetched_at": "2026-11-20T00:00:00Z", "ha_version": "2024.3.3"}
    return [
        {**base, "type": "entities", "part": 1, "items": [
            {"entity_id": e, "platform": "test", "device_id": None, "area_id": None, "name": n, "id": f"reg-{e}"}
            for e, n, _, _ in ENTITIES]},
        {**base, "type": "states", "part": 2, "items": [
            {"entity_id": e, "state": "1", "attributes": {"friendly_name": n, "device_class": c,
                                                          "unit_of_measurement": u}}
            for e, n, c, u in ENTITIES]},
    ]


def set_home_zone(metadata_url: str, zone: str | None) -> None:
    """The time zone of HA's config in the metadata DB, in the row metadata-sync keeps it in (None: no config
    yet), without a registry snapshot (which would retire the home's entities)."""
    db = MetadataDB(metadata_url)
    with db.engine.begin() as conn:
        conn.execute(delete(settings).where(settings.c.key == "ha_config"))
        if zone is not None:
            conn.execute(insert(settings).values(key="ha_config", updated_at="2026-11-20T00:00:00Z",
                                                 value=json.dumps({"time_zone": zone, "latitude": 0.0})))
    db.engine.dispose()


def a_zone_on_another_day(at: dt.datetime) -> str:
    """A zone whose date is not UTC's at `at`: Kiritimati (UTC+14) is a day ahead from 10:00 UTC, Pago Pago
    (UTC-11) a day behind until 11:00 UTC, so at every hour one of them is."""
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        if at.astimezone(zoneinfo.ZoneInfo(zone)).date() != at.date():
            return zone
    raise AssertionError(f"no zone on another day than UTC at {at}")


def local_midnight(zone: str, at: dt.datetime) -> dt.datetime:
    """The UTC start of the day holding `at` in `zone`, worked out here for the tests."""
    return at.astimezone(zoneinfo.ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(
        dt.UTC)
