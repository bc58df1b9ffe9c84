"""A small home with known facts, for the query tests: written to a real event store and metadata DB.

Two days (T0 .. T0+48h, T0 = two days before the current hour, so default ranges such as -24h find
data): a thermostat and an outdoor sensor (numbers, the outdoor one without area or device), a kitchen
light switched every 30 minutes with one too-short and one too-long stay, a motion automation chain three
contexts deep, two contexts whose parents point at each other (a loop), a smart plug whose two entities go
unavailable together once (1 h) and its switch alone once more (30 min), and events carrying hostile text.
Every event record is shaped as normalize makes it; ids are deterministic. Each entity's events are
added in time order (durations are worked out as they are added).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ingestor.timeutil import format_timestamp
from ingestor.units import unit_name

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HOUR = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
HOSTILE_NAME = "50% off_sale 'q' \"dq\" \\ back; DROP TABLE events; -- /.*/ (?i) ünïcødé 🏠"

AREAS = [("living_room", "Living Room"), ("kitchen", "Kitchen"), ("bedroom", "Bedroom"), ("attic", "Attic")]
DEVICES = [  # id, name, manufacturer, model, area
    ("dev_thermo", "Thermostat", "Acme", "T-1000", "living_room"),
    ("dev_light", "Kitchen Bulb", "Philips", "Hue Bulb", "kitchen"),
    ("dev_motion", "Bedroom Motion", "Aqara", "Motion P1", "bedroom"),
    ("dev_plug", "Kitchen Plug", "Shelly", "Plug S", "kitchen"),
    ("dev_quiet", "Attic Sensor", "Acme", "T-1000", "attic"),  # no events at all
]
ENTITIES = [  # entity_id, platform, device, own area (None: the device's), name, unit
    ("sensor.living_temperature", "acme", "dev_thermo", None, "Living Temperature", "°C"),
    ("sensor.living_humidity", "acme", "dev_thermo", None, "Living Humidity", "%"),
    ("light.kitchen", "hue", "dev_light", None, "Kitchen Light", None),
    ("binary_sensor.bedroom_motion", "zha", "dev_motion", None, "Bedroom Motion", None),
    ("switch.kitchen_plug", "shelly", "dev_plug", None, "Kitchen Plug", None),
    ("sensor.kitchen_plug_power", "shelly", "dev_plug", None, "Kitchen Plug Power", "W"),
    ("sensor.attic_temperature", "acme", "dev_quiet", None, "Attic Temperature", "°C"),
    ("automation.motion_light", "automation", None, None, "Motion Light", None),
    ("script.night_plug", "script", None, None, "Night Plug", None),
    ("sensor.outdoor_temperature", "met", None, None, "Outdoor Temperature", "°C"),
]
HA_NAMED = "sensor.kitchen_plug_power"  # in HA's registry as "Power"; its friendly_name is "Kitchen Plug Power"


def ulid(at: dt.datetime, seed: str) -> str:
    """A ULID as HA makes context ids: 48 bits of milliseconds, 80 bits of (here: deterministic) noise."""
    n = (int(at.timestamp() * 1000) << 80) | (int(hashlib.sha256(seed.encode()).hexdigest(), 16) & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(26)))


@dataclass
class Home:
    t0: dt.datetime
    records: list[dict[str, Any]] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # context ids, trigger first
    loop: list[str] = field(default_factory=list)
    _last: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)

    def add(self, entity_id: str | None, at: dt.datetime, state: str | None = None, *,
            event_type: str = "state_changed", context: str | None = None, parent: str | None = None,
            data: dict[str, Any] | None = None,
            name: str | None = None, user: str | None = None) -> dict[str, Any]:
        meta = next((e for e in ENTITIES if e[0] == entity_id), None)
        device = meta[2] if meta else None
        area = next((d[4] for d in DEVICES if d[0] == device), None) if device else None
        old, duration = None, None
        if event_type == "state_changed" and entity_id:
            previous = self._last.get(entity_id)
            if previous:
                old, since = previous
                duration = round((at - since).total_seconds(), 6) if old != state else None
            if previous is None or previous[0] != state:
                self._last[entity_id] = (state or "", at)
        value = None
        if state is not None:
            try:
                value = float(state)
            except ValueError:
                value = {"on": 1.0, "off": 0.0}.get(state)
        unit = meta[5] if meta else None
        record = {
            "event_id": hashlib.md5(f"query-test:{len(self.records)}".encode()).hexdigest(),  # noqa: S324
            "event_type": event_type, "time_fired": format_timestamp(at), "origin": "LOCAL",
            "entity_id": entity_id, "domain": entity_id.split(".")[0] if entity_id else None,
            "state": state, "old_state": old, "state_value": value, "unit": unit_name(unit),
            "device_class": "temperature" if unit == "°C" else None,
            "friendly_name": name or (meta[4] if meta else None),
            "attributes": {"friendly_name": name or (meta[4] if meta else None),
                           **({"unit_of_measurement": unit} if unit else {})} if entity_id else {},
            "duration_in_state": duration,
            "context": {"id": context or ulid(at, f"ctx{len(self.records)}"), "parent_id": parent, "user_id": user},
            "device_id": device, "area_id": area,
            "device_manufacturer": next((d[2] for d in DEVICES if d[0] == device), None),
            "device_model": next((d[3] for d in DEVICES if d[0] == device), None),
            "weather": None, "data": data,
        }
        self.records.append(record)
        return record


def build(now: dt.datetime | None = None) -> Home:
    now = now or dt.datetime.now(dt.UTC)
    t0 = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
    home = Home(t0)
    for i in range(288):  # every 10 minutes
        home.add("sensor.living_temperature", t0 + i * 10 * MIN, f"{20 + (i % 12) * 0.25:.2f}")
    for i in range(48):
        home.add("sensor.outdoor_temperature", t0 + i * HOUR + 5 * MIN, f"{5 + (i % 6):.1f}")
    # the kitchen light: 30-minute stays, but one 1-minute "on" and one 12-hour "off"
    at, state = t0 + 2 * MIN, "off"
    home.add("light.kitchen", at, state)
    for i in range(40):
        at += 30 * MIN if i not in (7, 20) else (1 * MIN if i == 7 else 12 * HOUR)
        state = "on" if state == "off" else "off"
        home.add("light.kitchen", at, state)
    # the plug: both entities unavailable 10:00-11:00, the switch alone 30:00-30:30
    home.add("switch.kitchen_plug", t0 + MIN, "off")
    home.add("sensor.kitchen_plug_power", t0 + MIN, "12.5")
    for entity_id, back in (("switch.kitchen_plug", "off"), ("sensor.kitchen_plug_power", "13.0")):
        home.add(entity_id, t0 + 10 * HOUR, "unavailable")
        home.add(entity_id, t0 + 11 * HOUR, back)
    home.add("switch.kitchen_plug", t0 + 30 * HOUR, "unavailable")
    home.add("switch.kitchen_plug", t0 + 30 * HOUR + 30 * MIN, "off")
    # motion -> automation -> light, and the automation runs a script that switches the plug
    m = t0 + 40 * HOUR
    trigger, run, script = ulid(m, "trigger"), ulid(m + 2 * MIN / 60, "run"), ulid(m + 3 * MIN / 60, "script")
    home.chain = [trigger, run, script]
    home.add("binary_sensor.bedroom_motion", m - HOUR, "off")
    home.add("binary_sensor.bedroom_motion", m, "on", context=trigger)
    home.add(None, m + dt.timedelta(seconds=2), event_type="automation_triggered", context=run, parent=trigger,
             data={"name": "Motion Light", "entity_id": "automation.motion_light"})
    home.add("automation.motion_light", m + dt.timedelta(seconds=2), "on", context=run, parent=trigger)
    home.add(None, m + dt.timedelta(seconds=3), event_type="call_service", context=run, parent=trigger,
             data={"domain": "light", "service": "turn_on", "service_data": {"entity_id": "light.kitchen"}})
    home.add("script.night_plug", m + dt.timedelta(seconds=3), "on", context=script, parent=run)
    home.add("switch.kitchen_plug", m + dt.timedelta(seconds=4), "on", context=script, parent=run)
    # two contexts naming each other as parent: a loop a trace must not follow forever
    a, b = ulid(t0 + 5 * HOUR, "loop-a"), ulid(t0 + 5 * HOUR, "loop-b")
    home.loop = [a, b]
    home.add("counter.loop", t0 + 5 * HOUR + 30 * MIN, "1", context=a, parent=b)
    home.add("counter.loop", t0 + 5 * HOUR + 31 * MIN, "2", context=b, parent=a)
    # hostile text, stored and searched for exactly
    home.add("sensor.living_humidity", t0 + 20 * HOUR, "45", name=HOSTILE_NAME)
    home.add("sensor.living_humidity", t0 + 21 * HOUR, "47%_x")
    home.records.sort(key=lambda r: r["time_fired"])
    return home


def registry_parts() -> list[dict[str, Any]]:
    """The metadata as the bridge publishes it (HA's own objects), one snapshot in four parts."""
    base = {"snapshot_id": "query-test", "parts": 4, "fetched_at": "2026-11-20T00:00:00Z", "ha_version": "2024.3.3"}
    return [
        {**base, "type": "areas", "part": 1, "items": [{"area_id": a, "name": n} for a, n in AREAS]},
        {**base, "type": "devices", "part": 2, "items": [
            {"id": i, "name": n, "manufacturer": m, "model": mo, "area_id": ar, "sw_version": "1.0"}
            for i, n, m, mo, ar in DEVICES]},
        {**base, "type": "entities", "part": 3, "items": [
            {"entity_id": e, "platform": p, "device_id": d, "area_id": a, "name": n, "id": f"reg-{e}"}
            if e != HA_NAMED else  # named as HA 2024 names an entity of a device: its own part only
            {"entity_id": e, "platform": p, "device_id": d, "area_id": a, "name": None, "original_name": "Power",
             "has_entity_name": True, "id": f"reg-{e}"}
            for e, p, d, a, n, _ in ENTITIES]},
        {**base, "type": "states", "part": 4, "items": [
            {"entity_id": e, "state": "1",
             "attributes": {"friendly_name": n, **({"unit_of_measurement": u} if u else {})}}
            for e, _, _, _, n, u in ENTITIES]},
    ]
