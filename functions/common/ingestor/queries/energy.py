"""GET /energy/summary, /energy/hourly and /energy/correlation: the home's energy from its own meters.

Meters and power sensors are the metadata DB's current entities of device_class energy/power or measured in
Wh/kWh/MWh / W/kW/MW (energy/meters.py). Energy is given in kWh whatever the meter counts in; cost and carbon
in the units of the stored price and carbon series (p/kWh -> p, gCO2/kWh -> gCO2). The home's energy is the
sum of its meters unless `entity_id` names one (a whole-home meter beside per-device meters would count
twice: pick it). Cost and carbon of an hour are its energy times the hour's mean price / intensity, and are
left out (null) where either is missing; a day's are the sums over its hours that have both.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from typing import Any

from ingestor import hometime
from ingestor.energy import advice, meters, reading
from ingestor.energy import correlation as corr
from ingestor.energy import impact as device_impact
from ingestor.errors import Invalid
from ingestor.httpapi import iso
from ingestor.queries.params import Range, bucket_starts
from ingestor.queries.stats import resolution
from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore
from ingestor.store.timerange import from_micros, to_micros
from ingestor.units import unit_symbol

DEVICE_CLASSES = ("energy", "power")
UNITS = (*meters.ENERGY_UNITS, *meters.POWER_UNITS)
ENERGY_UNIT = "kWh"
PER_KWH = "/kWh"
# stored unit names of the context series -> (as shown, the unit of energy x it)
RATE_UNITS = {"pence_per_kilowatt_hour": ("p/kWh", "p"), "gram_co2_per_kilowatt_hour": ("gCO2/kWh", "gCO2")}
HOUR_US = reading.HOUR_S * 1_000_000
DAY_S = 86_400
FACTORS = {"temperature": reading.TEMPERATURE, "price": reading.PRICE, "carbon_intensity": reading.CARBON}


class Reads(dict[str, Any]):
    """The `info` of several store reads: each read sets "resolution", and every one set is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.seen.append({key: value})

    def resolution(self) -> str:
        return resolution(*self.seen)


def rate_units(unit: str | None) -> tuple[str | None, str | None]:
    """(rate as shown, amount per kWh) for a context series' stored unit, e.g. ("EUR/kWh", "EUR")."""
    if unit in RATE_UNITS:
        return RATE_UNITS[unit]
    shown = unit_symbol(unit)
    if shown and shown.endswith(PER_KWH):
        return shown, shown[: -len(PER_KWH)]
    return shown, None


def _meters(entities: list[dict[str, Any]], entity_id: str | None) -> list[dict[str, Any]]:
    found = [e for e in entities if meters.kind(e["device_class"], e["unit_of_measurement"]) == "energy"]
    if entity_id is None:
        return found
    chosen = [e for e in found if e["entity_id"] == entity_id]
    if not chosen:
        raise Invalid(f"entity_id: {entity_id!r} is not an energy meter (device_class energy or Wh/kWh/MWh)",
                      code="bad_parameter")
    return chosen


def _factor(entity: dict[str, Any]) -> float:
    return meters.ENERGY_UNITS.get(entity["unit_of_measurement"], 1.0)  # no unit: HA's energy default, kWh


def _meter_hours(store: EventStore, chosen: list[dict[str, Any]], r: Range,
                 info: dict[str, Any]) -> dict[str, meters.Hours]:
    """Per meter its hours, from the readings' min and max per hour (where the store keeps no rises)."""
    return reading.meter_hours(store, [e["entity_id"] for e in chosen], r.start, r.end, info)


def _per_hour(store: EventStore, chosen: list[dict[str, Any]], r: Range, info: dict[str, Any]
              ) -> tuple[dict[int, tuple[float, bool]], dict[str, meters.Hours] | None]:
    """Per hour (µs) with a reading: the home's kWh, and whether it is that hour's alone (every meter has a
    reading in it and in the hour before, so none brings what it rose over hours without one). From the
    meters' rises summed in the store where it keeps them, else from each meter's hours (then given too)."""
    n = len(chosen)
    totals = store.meter_totals({e["entity_id"]: _factor(e) for e in chosen}, r.start, r.end, info)
    if totals is not None:
        return {hour: (kwh, read == n and before == n) for hour, kwh, read, before in zip(
            totals.start, totals.energy, totals.meters, totals.before, strict=True)}, None
    per_meter = _meter_hours(store, chosen, r, info)
    per_hour: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
    for e in chosen:
        factor = _factor(e)
        hours = per_meter[e["entity_id"]]
        for start, energy, span in zip(hours.start, hours.energy, hours.span_h, strict=True):
            acc = per_hour[start]
            acc[0] += energy * factor
            if span == 1:
                acc[1] += 1
    return {hour: (kwh, alone == n) for hour, (kwh, alone) in per_hour.items()}, per_meter


def _own_hours(store: EventStore, chosen: list[dict[str, Any]], r: Range, hours_of_day: set[int],
               info: dict[str, Any], per_meter: dict[str, meters.Hours] | None) -> dict[str, dict[int, float]]:
    """Per meter, its kWh in the hours at these UTC hours of the day (those the home's peak fell on: shift picks its
    own) whose energy is theirs alone (a reading in the hour before): from its rises where the store keeps them,
    else from its hours (read once: `per_meter`)."""
    found = None if per_meter is not None else store.meter_rises([e["entity_id"] for e in chosen], r.start, r.end,
                                                                 hours_of_day, info)
    if found is not None:
        return {e["entity_id"]: {start: kwh * _factor(e) for start, kwh, before in zip(
            found[e["entity_id"]].start, found[e["entity_id"]].energy, found[e["entity_id"]].read_before,
            strict=True) if before} for e in chosen}
    per_meter = per_meter or _meter_hours(store, chosen, r, info)
    return {e["entity_id"]: {start: kwh * _factor(e) for start, kwh, span in zip(
        per_meter[e["entity_id"]].start, per_meter[e["entity_id"]].energy, per_meter[e["entity_id"]].span_h,
        strict=True) if span == 1 and start // HOUR_US % 24 in hours_of_day} for e in chosen}


def summary(store: EventStore, entities: list[dict[str, Any]], r: Range,
            clock: hometime.HomeClock = hometime.UTC_CLOCK) -> dict[str, Any]:
    info = Reads()
    rows = []
    chosen = _meters(entities, None)
    totals = reading.meter_total(store, [e["entity_id"] for e in chosen], r.start, r.end, info)
    for e in chosen:
        periods = totals[e["entity_id"]]
        now = reading.latest(store, e["entity_id"], None, r.end)
        rows.append({"entity_id": e["entity_id"], "name": e["name"], "area_name": e["area_name"],
                     "energy_kwh": round(sum(periods.energy) * _factor(e), 6),
                     "resets": sum(periods.resets), "reading": _reading(now, e["unit_of_measurement"])})
    total = sum(row["energy_kwh"] for row in rows)
    for row in rows:
        row["share"] = round(row["energy_kwh"] / total, 6) if total > 0 else None
    rows.sort(key=lambda row: (-row["energy_kwh"], row["entity_id"]))
    power = []
    for e in entities:
        if meters.kind(e["device_class"], e["unit_of_measurement"]) != "power":
            continue
        now = reading.latest(store, e["entity_id"], None, r.end)  # HA reports power on change: its last state holds
        power.append({"entity_id": e["entity_id"], "name": e["name"], "area_name": e["area_name"],
                      "current": _reading(now, e["unit_of_measurement"])})
    return {"start": iso(r.start), "end": iso(r.end), "time_zone": clock.describe(), "unit": ENERGY_UNIT,
            "total_kwh": round(total, 6), "meters": rows, "power": power, "resolution": info.resolution()}


def _reading(found: reading.Reading | None, unit: str | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"value": found.value, "state": found.state, "unit": unit, "time": iso(found.time)}


def _context_unit(store: EventStore, entity_id: str, r: Range) -> str | None:
    found = reading.latest(store, entity_id, None, r.end)
    return found.unit if found else None


def _buckets(r: Range, bucket_s: int, clock: hometime.HomeClock) -> list[dt.datetime]:
    """The buckets' starts: whole UTC hours, or the home's days (from its midnights, in HA's time zone)."""
    return clock.days(r.start, r.end) if bucket_s == DAY_S else bucket_starts(r, bucket_s)


def hourly(store: EventStore, entities: list[dict[str, Any]], r: Range, bucket_s: int,
           entity_id: str | None, clock: hometime.HomeClock = hometime.UTC_CLOCK) -> dict[str, Any]:
    info = Reads()
    chosen = _meters(entities, entity_id)
    per_hour, _ = _per_hour(store, chosen, r, info)
    means = reading.hourly_means(store, [reading.PRICE, reading.CARBON], r.start, r.end, info)
    price, carbon = means[reading.PRICE], means[reading.CARBON]
    points: dict[int, dict[str, Any]] = {to_micros(t): {"t": iso(t), "energy_kwh": None, "cost": None,
                                                        "carbon": None, "hours": 0}
                                         for t in _buckets(r, bucket_s, clock)}
    starts = list(points)
    for hour, (kwh, _) in sorted(per_hour.items()):
        index = bisect.bisect_right(starts, hour) - 1  # the bucket the hour starts in
        if index < 0:
            continue
        p = points[starts[index]]
        p["energy_kwh"] = (p["energy_kwh"] or 0.0) + kwh
        p["hours"] += 1
        for key, rates in (("cost", price), ("carbon", carbon)):
            if hour in rates:
                p[key] = (p[key] or 0.0) + kwh * rates[hour]
    for p in points.values():
        for key in ("energy_kwh", "cost", "carbon"):
            if p[key] is not None:
                p[key] = round(p[key], 6)
    if bucket_s == reading.HOUR_S:
        for hour, p in points.items():
            p["price"], p["carbon_intensity"] = price.get(hour), carbon.get(hour)
    price_unit, cost_unit = rate_units(_context_unit(store, reading.PRICE, r))
    carbon_unit, carbon_amount = rate_units(_context_unit(store, reading.CARBON, r))
    listed = list(points.values())
    return {"start": iso(r.start), "end": iso(r.end), "bucket_s": bucket_s, "time_zone": clock.describe(),
            "entities": [e["entity_id"] for e in chosen],
            "units": {"energy": ENERGY_UNIT, "price": price_unit, "cost": cost_unit,
                      "carbon_intensity": carbon_unit, "carbon": carbon_amount},
            "total_kwh": round(sum(p["energy_kwh"] or 0.0 for p in listed), 6),
            "total_cost": _total(listed, "cost"), "total_carbon": _total(listed, "carbon"),
            "points": listed, "resolution": info.resolution()}


def _total(points: list[dict[str, Any]], key: str) -> float | None:
    values = [p[key] for p in points if p[key] is not None]
    return round(sum(values), 6) if values else None


def _whole_hours(per_hour: dict[int, tuple[float, bool]], r: Range) -> dict[int, float]:
    """kWh of the whole hours of the range whose energy is theirs alone (every meter read in the hour before)."""
    first, last = to_micros(r.start), to_micros(r.end) - HOUR_US
    return {hour: kwh for hour, (kwh, alone) in per_hour.items() if alone and first <= hour <= last}


def impact(store: EventStore, entities: list[dict[str, Any]], r: Range, device: str, on_state: str,
           entity_id: str | None) -> dict[str, Any]:
    info = Reads()
    chosen = _meters(entities, entity_id)
    whole = _whole_hours(_per_hour(store, chosen, r, info)[0], r)
    changes = [(at, state == on_state) for at, state in reading.timeline(store, device, r.start, r.end)]
    found = device_impact.impact(whole, device_impact.on_fractions(changes, to_micros(r.start), to_micros(r.end)))
    rounded = {k: None if v is None else round(v, 6) for k, v in vars(found).items()}
    return {"start": iso(r.start), "end": iso(r.end), "device": device, "on_state": on_state,
            "entities": [e["entity_id"] for e in chosen], "unit": ENERGY_UNIT, "min_hours": device_impact.MIN_HOURS,
            "changes": len(changes), **rounded, "resolution": info.resolution()}


def correlation(store: EventStore, entities: list[dict[str, Any]], r: Range, entity_id: str | None) -> dict[str, Any]:
    info = Reads()
    chosen = _meters(entities, entity_id)
    whole = _whole_hours(_per_hour(store, chosen, r, info)[0], r)
    factors = []
    found_means = reading.hourly_means(store, list(FACTORS.values()), r.start, r.end, info)
    for name, series in FACTORS.items():
        means = found_means[series]
        hours = sorted(set(whole) & set(means))
        found = corr.pearson([whole[h] for h in hours], [means[h] for h in hours])
        factors.append({"factor": name, "entity_id": series, "unit": rate_units(_context_unit(store, series, r))[0],
                        "r": None if found.r is None else round(found.r, 6), "n": found.n,
                        "p_value": found.p_value, "significant": found.significant,
                        "first": iso(from_micros(hours[0])) if hours else None,
                        "last": iso(from_micros(hours[-1])) if hours else None})
    return {"start": iso(r.start), "end": iso(r.end), "entities": [e["entity_id"] for e in chosen],
            "alpha": corr.ALPHA, "energy_hours": len(whole), "factors": factors, "resolution": info.resolution()}


def recommendations(store: EventStore, entities: list[dict[str, Any]], r: Range,
                    clock: hometime.HomeClock = hometime.UTC_CLOCK) -> dict[str, Any]:
    info = Reads()
    chosen = _meters(entities, None)
    per_hour, per_meter = _per_hour(store, chosen, r, info)
    whole = _whole_hours(per_hour, r)
    means = reading.hourly_means(store, [reading.PRICE, reading.TEMPERATURE], r.start, r.end, info)
    price = means[reading.PRICE]
    price_unit, cost_unit = rate_units(_context_unit(store, reading.PRICE, r))
    found: list[dict[str, Any] | None] = []
    local = advice.local_hours(price, clock)
    peak = advice.peak_hours(price, local)
    own = _own_hours(store, chosen, r, peak, info, per_meter) if peak else {}
    for e in chosen:
        found.append(advice.shift(e["entity_id"], own.get(e["entity_id"], {}), price, local, clock, price_unit,
                                  cost_unit))
    temperatures = means[reading.TEMPERATURE]
    paired = sorted(set(whole) & set(temperatures))
    found.append(advice.temperature(corr.pearson([whole[h] for h in paired], [temperatures[h] for h in paired]),
                                    reading.TEMPERATURE))
    down = store.counts(EventFilter(start=r.start, end=r.end, state=advice.UNAVAILABLE), "entity_id",
                        advice.UNAVAILABLE_LIMIT, info=info)
    found += [advice.unavailable(entity_id, n, r.seconds) for entity_id, n in down if entity_id]
    items = [f for f in found if f is not None]
    return {"start": iso(r.start), "end": iso(r.end), "time_zone": clock.describe(), "items": items,
            "resolution": info.resolution()}
