"""Event store write throughput and dashboard query latency, per backend (SQLite, PostgreSQL, InfluxDB 1.x, and
InfluxDB 1.x with layout=homeassistant: HA's own points written beside the events').

Writes: fresh events written at batch sizes 1, 100 and 1,000 into a fresh database per backend and batch
size; only the wall time of `store.write` counts. Queries: 1,000,000 events (30 days of a home: ~300
entities in 12 areas on ~90 devices, 15 domains, user actions and automation chains) loaded in batches of
5,000, then each dashboard query timed 30 times after 2 warm-ups (p50/p95). Records are made by
`normalize_event` from HA-shaped events (a few hundred templates, one per entity and service), copied
with their own event id, time, state and context. The servers are the tests' (tests/support/servers.py):
PostgreSQL with fsync=off, InfluxDB 1.x with its default WAL fsync; SQLite is WAL with synchronous=NORMAL.
Prints figures; asserts nothing about time.

    python bench/store_benchmark.py [--events 1000000] [--backends sqlite,postgresql,influxdb1,influxdb1-ha]
                                    [--runs 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import traceback
from bisect import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions" / "common"), str(REPO / "infra" / "local")]

import psycopg  # noqa: E402

from ingestor.event_id import other_event_id, state_change_id_at  # noqa: E402
from ingestor.normalization import coerce_state_value, normalize_event  # noqa: E402
from ingestor.store import open_event_store  # noqa: E402
from ingestor.store.blocks import ulid_text  # noqa: E402
from ingestor.store.model import EventFilter  # noqa: E402
from ingestor.timeutil import format_timestamp  # noqa: E402
from tests.support.ha_events import state_changed  # noqa: E402
from tests.support.servers import InfluxDB1Server, PostgresServer  # noqa: E402

BACKENDS = ("sqlite", "postgresql", "influxdb1", "influxdb1-ha")
WRITES = ((1, 2_000), (100, 50_000), (1_000, 100_000))  # (batch size, events written)
LOAD_BATCH = 5_000
LOAD_BUDGET_S = 360  # a load projected past this is reported (never silently shrunk)
QUERY_BUDGET_S = 60  # a query slower than this allows for all runs gets fewer runs, and says so
WARMUPS = 2
DAYS = 30
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
HOUR_US, DAY_US = 3_600_000_000, 86_400_000_000

# --- the home ----------------------------------------------------------------------------------------


def walk(lo: float, hi: float, step: float, digits: int) -> Callable[[random.Random, str], str]:
    """A number drifting between lo and hi (temperatures, humidity, power)."""

    def next_state(rng: random.Random, current: str) -> str:
        value = float(current)
        for _ in range(4):
            new = f"{min(hi, max(lo, value + rng.gauss(0, step))):.{digits}f}"
            if new != current:
                return new
        return f"{(lo + hi) / 2:.{digits}f}" if current != f"{(lo + hi) / 2:.{digits}f}" else f"{lo:.{digits}f}"

    return next_state


def rising(lo: float, hi: float, digits: int) -> Callable[[random.Random, str], str]:
    """A meter that only grows (energy, counters)."""
    return lambda rng, current: f"{float(current) + rng.uniform(lo, hi):.{digits}f}"


def draining(rng: random.Random, current: str) -> str:
    """A battery: one percent down, recharged to 100 when flat."""
    return "100" if int(current) <= 5 else str(int(current) - 1)


def cycle(*states: str) -> Callable[[random.Random, str], str]:
    others = {s: [o for o in states if o != s] for s in states}
    return lambda rng, current: rng.choice(others[current])


def steady(rng: random.Random, current: str) -> str:
    """An attribute-only update (automations: last_triggered changes, the state stays on)."""
    return current


@dataclass(frozen=True)
class Kind:
    domain: str
    device_class: str | None
    unit: str | None
    weight: float  # relative update rate of one such entity
    first: str
    next_state: Callable[[random.Random, str], str]


ON_OFF = cycle("on", "off")
KINDS = {
    "temperature": Kind("sensor", "temperature", "°C", 3, "21.0", walk(15, 28, 0.2, 1)),
    "humidity": Kind("sensor", "humidity", "%", 3, "45.0", walk(25, 80, 0.8, 1)),
    "illuminance": Kind("sensor", "illuminance", "lx", 5, "120", walk(0, 2000, 40, 0)),
    "power": Kind("sensor", "power", "W", 20, "85.0", walk(0, 3000, 35, 1)),
    "energy": Kind("sensor", "energy", "kWh", 6, "1520.000", rising(0.001, 0.04, 3)),
    "battery": Kind("sensor", "battery", "%", 0.2, "100", draining),
    "motion": Kind("binary_sensor", "motion", None, 5, "off", ON_OFF),
    "door": Kind("binary_sensor", "door", None, 1, "off", ON_OFF),
    "window": Kind("binary_sensor", "window", None, 0.5, "off", ON_OFF),
    "light": Kind("light", None, None, 1.2, "off", ON_OFF),
    "switch": Kind("switch", "outlet", None, 1, "off", ON_OFF),
    "cover": Kind("cover", "blind", None, 0.5, "open", cycle("open", "closed")),
    "media": Kind("media_player", "speaker", None, 2, "off", cycle("playing", "paused", "idle", "off")),
    "climate": Kind("climate", None, None, 0.8, "heat", cycle("heat", "off", "auto")),
    "fan": Kind("fan", None, None, 0.4, "off", ON_OFF),
    "lock": Kind("lock", None, None, 0.3, "locked", cycle("locked", "unlocked")),
    "person": Kind("person", None, None, 0.5, "home", cycle("home", "not_home")),
    "tracker": Kind("device_tracker", None, None, 1, "home", cycle("home", "not_home")),
    "automation": Kind("automation", None, None, 0, "on", steady),
    "script": Kind("script", None, None, 0.2, "off", ON_OFF),
    "counter": Kind("counter", None, None, 0.3, "0", rising(1, 1, 0)),
    "input_boolean": Kind("input_boolean", None, None, 0.4, "off", ON_OFF),
}
AREAS = ("living_room", "kitchen", "bedroom", "bathroom", "office", "hallway", "garage", "garden", "kids_room",
         "guest_room", "basement", "laundry")
PER_AREA = (("temperature", "temperature"), ("humidity", "humidity"), ("illuminance", "illuminance"),
            ("power", "power_1"), ("power", "power_2"), ("battery", "battery_1"), ("battery", "battery_2"),
            ("motion", "motion"), ("door", "door"), ("window", "window"), ("light", "ceiling_light"),
            ("light", "lamp"), ("light", "spotlights"), ("switch", "socket_1"), ("switch", "socket_2"),
            ("cover", "blinds"), ("media", "speaker"), ("climate", "thermostat"), ("fan", "fan"), ("lock", "lock"))
PEOPLE = ("anna", "ben", "chloe", "david")
USERS = [hashlib.blake2b(p.encode(), digest_size=16).hexdigest() for p in PEOPLE]
SERVICES = {  # (domain, new state) -> service a user or an automation calls for it
    **{(d, s): f"turn_{s}" for d in ("light", "switch", "fan", "input_boolean", "script") for s in ("on", "off")},
    ("cover", "open"): "open_cover", ("cover", "closed"): "close_cover",
    ("lock", "locked"): "lock", ("lock", "unlocked"): "unlock",
    ("media_player", "playing"): "media_play", ("media_player", "paused"): "media_pause",
    ("media_player", "idle"): "media_stop", ("media_player", "off"): "turn_off",
    **{("climate", s): "set_hvac_mode" for s in ("heat", "off", "auto")},
}
TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")
CHAIN_P, USER_P = 0.01, 0.06  # episodes: automation chain, user action (the rest: one state change)


def _title(slug: str) -> str:
    return slug.replace("_", " ").title()


def _id(*parts: object) -> str:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).hexdigest()


_MINUTES: dict[int, str] = {}


def stamp(micros: int) -> str:
    """format_timestamp's text, its minute prefix computed once per minute (a fifth of generation time)."""
    minute, rest = divmod(micros, 60_000_000)
    prefix = _MINUTES.get(minute)
    if prefix is None:
        prefix = _MINUTES[minute] = format_timestamp(EPOCH + dt.timedelta(minutes=minute))[:17]
    return f"{prefix}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}Z"


@dataclass(eq=False)
class Entity:
    entity_id: str
    name: str
    kind: Kind
    area_id: str | None
    device_id: str | None
    template: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Automation:
    entity: Entity
    trigger: Entity
    targets: tuple[Entity, ...]


@dataclass
class Dataset:
    records: list[dict[str, Any]]
    chains: list[tuple[str, str, int]]  # (trigger context id, automation context id, events caused)
    start_us: int
    end_us: int


class Home:
    """~300 entities in 12 areas on ~90 devices; records are copies of normalized per-entity templates."""

    chain_p, user_p = CHAIN_P, USER_P

    def __init__(self) -> None:
        self.entities: list[Entity] = []
        self.devices: set[str] = set()
        for area in AREAS:
            for n, (kind, suffix) in enumerate(PER_AREA):
                self._add(f"{area}_{suffix}", kind, area, _id("device", area, n // 3))
        for person in PEOPLE:
            self._add(person, "person", None, None)
            self._add(f"{person}_phone", "tracker", None, _id("phone", person))
        for meter in ("grid_import", "grid_export", "solar", "heat_pump", "car_charger"):
            self._add(f"energy_{meter}", "energy", None, _id("device", "meter"))
        for name in ("guest_mode", "vacation", "night_mode", "party", "cleaning", "school_day", "away", "sleep"):
            self._add(name, "input_boolean", None, None)
        for name in ("goodnight", "morning", "leave_home", "arrive_home", "movie", "dinner", "wake_kids", "vent"):
            self._add(name, "script", None, None)
        for name in ("doorbell_rings", "lights_turned_on", "washing_cycles", "coffees"):
            self._add(name, "counter", None, None)
        by_id = {e.entity_id: e for e in self.entities}
        self.automations = []
        for area in AREAS:  # motion turns the lights on and off; 8 doors switch a socket
            lights = tuple(by_id[f"light.{area}_{s}"] for s in ("ceiling_light", "lamp"))
            self.automations.append(Automation(self._add(f"{area}_motion_lights", "automation", None, None),
                                               by_id[f"binary_sensor.{area}_motion"], lights))
        for area in AREAS[:8]:
            socket = by_id[f"switch.{area}_socket_1"]
            self.automations.append(Automation(self._add(f"{area}_door_socket", "automation", None, None),
                                               by_id[f"binary_sensor.{area}_door"], (socket,)))
        self.singles = [e for e in self.entities if e.kind.weight > 0]
        self.cumulative = list(accumulate(e.kind.weight for e in self.singles))
        self.controllable = [e for e in self.entities if (e.kind.domain, e.kind.first) in SERVICES]
        self._calls: dict[tuple[str, str], dict[str, Any]] = {}
        self._fetched: dict[tuple[str, int], dict[str, Any]] = {}
        self._triggered: dict[str, dict[str, Any]] = {}

    def _add(self, slug: str, kind_name: str, area: str | None, device: str | None) -> Entity:
        kind = KINDS[kind_name]
        entity = Entity(f"{kind.domain}.{slug}", _title(slug), kind, area, device)
        attributes: dict[str, Any] = {"friendly_name": entity.name}
        if kind.device_class:
            attributes["device_class"] = kind.device_class
        if kind.unit:
            attributes.update(unit_of_measurement=kind.unit, state_class="measurement")
        if kind.domain == "automation":
            attributes = {"id": slug, "last_triggered": None, "mode": "single", "current": 0, **attributes}
        event = state_changed(entity.entity_id, kind.first, kind.first, dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                              unit=kind.unit)
        for state in (event["data"]["old_state"], event["data"]["new_state"]):
            state["attributes"] = dict(attributes)
        entity.template = {**normalize_event(event), "area_id": area, "device_id": device}
        self.entities.append(entity)
        if device:
            self.devices.add(device)
        return entity

    def _event(self, event_type: str, data: dict[str, Any], entity: Entity | None) -> dict[str, Any]:
        event = {"event_type": event_type, "data": data, "origin": "LOCAL",
                 "time_fired": "2026-01-01T00:00:00+00:00", "context": {"id": "01J00000000000000000000000"}}
        return {**normalize_event(event), "area_id": entity.area_id if entity else None,
                "device_id": entity.device_id if entity else None}

    def call_template(self, target: Entity, service: str, new: str) -> dict[str, Any]:
        key = (target.entity_id, service if service != "set_hvac_mode" else f"{service}:{new}")
        if key not in self._calls:
            service_data: dict[str, Any] = {"entity_id": target.entity_id}
            if service == "set_hvac_mode":
                service_data["hvac_mode"] = new
            self._calls[key] = self._event("call_service", {"domain": target.kind.domain, "service": service,
                                                            "service_data": service_data}, target)
        return self._calls[key]

    def triggered_template(self, auto: Automation) -> dict[str, Any]:
        if auto.entity.entity_id not in self._triggered:
            self._triggered[auto.entity.entity_id] = self._event(
                "automation_triggered", {"name": auto.entity.name, "entity_id": auto.entity.entity_id,
                                         "source": f"state of {auto.trigger.entity_id}"}, None)
        return self._triggered[auto.entity.entity_id]

    def context_values(self, at: int) -> dict[str, Any]:
        """What weather-enrich attaches with the default sources: the last weather (fetched every 15 min)
        and air quality (hourly) readings, each with its age when the event passed through."""
        out = {}
        for key, refresh, values in (("weather", 900, self._weather), ("air_quality", 3600, self._air)):
            fetched = at // (refresh * 1_000_000) * refresh * 1_000_000 + 7_000_000
            if fetched > at:
                fetched -= refresh * 1_000_000
            age = round((at - fetched) / 1e6 + 0.4, 1)
            base = self._fetched.get((key, fetched))
            if base is None:
                if len(self._fetched) > 64:
                    self._fetched.clear()
                base = self._fetched[(key, fetched)] = {**values(fetched), "fetched_at": stamp(fetched)[:19] + "Z"}
            out[key] = {**base, "age_s": age, "stale": age > refresh, "provider": "open-meteo"}
        return out

    def _weather(self, at: int) -> dict[str, Any]:
        phase = (at // 900_000_000) % 96
        return {"temperature": round(8 + 6 * abs(48 - phase) / 48, 1), "humidity": 60 + phase % 30,
                "pressure": 1013.2 - phase % 7, "condition": ("clear", "cloudy", "rain")[phase // 32],
                "wind_speed": round(2 + (phase % 11) / 3, 1)}

    def _air(self, at: int) -> dict[str, Any]:
        hour = (at // 3_600_000_000) % 24
        return {"aqi": 20 + hour, "us_aqi": 30 + hour, "pm2_5": round(4 + hour / 5, 1), "pm10": 9 + hour % 6,
                "ozone": 50 + hour}

    def generate(self, count: int, start_us: int, end_us: int, seed: int, namespace: str,
                 enriched: bool = True) -> Dataset:
        """`count` events spread evenly over [start, end), oldest first; `namespace` seeds its contexts."""
        rng = random.Random(f"{namespace}:{seed}")
        records: list[dict[str, Any]] = []
        chains: list[tuple[str, str, int]] = []
        state = {e.entity_id: e.kind.first for e in self.entities}
        changed = {e.entity_id: start_us - rng.randrange(6 * HOUR_US) for e in self.entities}
        total_weight = self.cumulative[-1]
        step = (end_us - start_us) / count
        last = start_us - 1

        def context(at: int, parent: str | None = None, user: str | None = None) -> dict[str, str | None]:
            """A ULID as HA makes them: 48 bits of milliseconds, 80 random, in Crockford's base 32."""
            ulid = ulid_text((at // 1000).to_bytes(6, "big") + rng.getrandbits(80).to_bytes(10, "big"))
            return {"id": ulid, "parent_id": parent, "user_id": user}

        def emit(template: dict[str, Any], at: int, ctx: dict[str, str | None], **values: Any) -> None:
            record = dict(template)
            fired = stamp(at)
            record.update(time_fired=fired, context=ctx, **values)
            # The id normalize gives the event: a state change's hashes (entity, time, state), another's
            # (type, time, context, data); `namespace` keeps separately generated sets apart.
            if record["event_type"] == "state_changed":
                record["event_id"] = state_change_id_at(record["entity_id"], fired, record["state"])
            else:
                record["event_id"] = other_event_id(record["event_type"], fired, ctx["id"], record["data"])
            if enriched:
                record.update(self.context_values(at))
            records.append(record)

        def change(entity: Entity, at: int, ctx: dict[str, str | None], new: str | None = None) -> None:
            old = state[entity.entity_id]
            new = entity.kind.next_state(rng, old) if new is None else new
            duration = None
            if new != old:
                duration = round((at - changed[entity.entity_id]) / 1e6, 6)
                changed[entity.entity_id] = at
            state[entity.entity_id] = new
            emit(entity.template, at, ctx, state=new, old_state=old, state_value=coerce_state_value(new),
                 duration_in_state=duration)

        while len(records) < count:
            at = max(last + 1, start_us + int((len(records) + rng.random() * 0.9) * step))
            roll = rng.random()
            if roll < self.chain_p:
                auto = rng.choice(self.automations)
                trigger_ctx = context(at)
                change(auto.trigger, at, trigger_ctx)
                new = "on" if state[auto.trigger.entity_id] == "on" else "off"
                ctx = context(at + 2_000, parent=trigger_ctx["id"])
                before = len(records)
                emit(self.triggered_template(auto), at + 2_000, ctx)
                change(auto.entity, at + 3_000, ctx)
                for k, target in enumerate(auto.targets):
                    if state[target.entity_id] != new:
                        service = SERVICES[(target.kind.domain, new)]
                        emit(self.call_template(target, service, new), at + 5_000 + k * 1_000, ctx)
                        change(target, at + 40_000 + k * 1_000, ctx, new)
                chains.append((trigger_ctx["id"], ctx["id"], len(records) - before))  # type: ignore[arg-type]
                at += 40_000 + len(auto.targets) * 1_000
            elif roll < self.chain_p + self.user_p:
                target = rng.choice(self.controllable)
                new = target.kind.next_state(rng, state[target.entity_id])
                ctx = context(at, user=rng.choice(USERS))
                emit(self.call_template(target, SERVICES[(target.kind.domain, new)], new), at, ctx)
                at += rng.randrange(20_000, 400_000)
                change(target, at, ctx, new)
            else:
                change(self.singles[bisect(self.cumulative, rng.random() * total_weight)], at, context(at))
            last = at
        return Dataset(records[:count], chains, start_us, end_us)


def describe(home: Home, data: Dataset) -> str:
    types = Counter(r["event_type"] for r in data.records)
    parented = sum(1 for r in data.records if r["context"]["parent_id"])
    total = len(data.records)
    mix = ", ".join(f"{t} {n / total:.1%}" for t, n in types.most_common())
    return (f"{total:,} events over {DAYS} days ({stamp(data.start_us)[:16]}Z → {stamp(data.end_us)[:16]}Z), "
            f"{len(home.entities)} entities in {len(AREAS)} areas on {len(home.devices)} devices, "
            f"{len({e.kind.domain for e in home.entities})} domains; {mix}; "
            f"{parented / total:.1%} caused by an automation (context.parent_id set)")


# --- backends ----------------------------------------------------------------------------------------


def dir_size(*paths: Path) -> int:
    return sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file())


class SqliteBackend:
    name = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "sqlite"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)

    def url(self, tag: str) -> str:
        return f"sqlite:///{self.dir}/{tag}.db"

    def after_load(self, tag: str) -> str | None:
        return None

    def size(self, tag: str) -> int:
        return sum(p.stat().st_size for p in self.dir.glob(f"{tag}.db*"))

    def cleanup(self) -> None:
        pass


class PostgresBackend:
    name = "postgresql"

    def __init__(self) -> None:
        self.server: PostgresServer | None = None

    def start(self) -> None:
        self.server = PostgresServer()
        self.server.start()

    def _connect(self, database: str) -> psycopg.Connection:
        assert self.server
        return psycopg.connect(f"host=127.0.0.1 port={self.server.port} user=postgres dbname={database}",
                               autocommit=True)

    def url(self, tag: str) -> str:
        assert self.server
        with self._connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{tag}"')
        return f"postgresql://postgres@127.0.0.1:{self.server.port}/{tag}"

    def after_load(self, tag: str) -> str | None:
        # What autovacuum does within a minute of a bulk load; done now so plans do not change mid-run.
        with self._connect(tag) as conn:
            conn.execute("ANALYZE events")
        return "PostgreSQL: `ANALYZE events` after the load (autovacuum's job; done once so plans are stable)"

    def size(self, tag: str) -> int:
        with self._connect(tag) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def cleanup(self) -> None:
        if self.server:
            self.server.cleanup()


class InfluxBackend:
    """InfluxDB 1.x; layout=homeassistant also writes each state change as HA's influxdb: integration does
    (with HA's default options), so the two rows compare what that layout costs."""

    def __init__(self, layout: str = "native") -> None:
        self.layout = layout
        self.name = "influxdb1" if layout == "native" else "influxdb1-ha"
        self.server: InfluxDB1Server | None = None

    def start(self) -> None:
        self.server = InfluxDB1Server()
        self.server.start()

    def url(self, tag: str) -> str:
        assert self.server
        return self.server.url(tag) + ("" if self.layout == "native" else f"?layout={self.layout}")

    def after_load(self, tag: str) -> str | None:
        return None

    def size(self, tag: str) -> int:
        assert self.server
        return dir_size(self.server.dir / "data" / tag, self.server.dir / "wal" / tag)

    def cleanup(self) -> None:
        if self.server:
            self.server.cleanup()


# --- measuring ---------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def open_fresh(backend: Any, tag: str) -> Any:
    store = open_event_store(backend.url(tag))
    store.count(EventFilter())  # creates the schema (SQL) or the database (InfluxDB) before any timing
    return store


def write_rate(store: Any, records: list[dict[str, Any]], batch: int) -> float:
    spent = 0.0
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        started = time.perf_counter()
        store.write(chunk)
        spent += time.perf_counter() - started
    return len(records) / spent


@dataclass
class Load:
    events: int = 0
    seconds: float = 0.0
    size: int = 0
    notes: list[str] = field(default_factory=list)


def load(store: Any, records: list[dict[str, Any]], name: str, notes: list[str]) -> float:
    spent, warned = 0.0, False
    for i in range(0, len(records), LOAD_BATCH):
        started = time.perf_counter()
        store.write(records[i:i + LOAD_BATCH])
        spent += time.perf_counter() - started
        done = i + LOAD_BATCH
        if not warned and done >= len(records) // 10 and done < len(records):
            projected = spent * len(records) / done
            progress(f"{name}: {done:,} loaded in {spent:.0f} s, projected {projected:.0f} s")
            if projected > LOAD_BUDGET_S:
                notes.append(f"{name}: loading {len(records):,} events was projected at {projected / 60:.1f} min "
                             f"after the first {done:,} (over the ~{LOAD_BUDGET_S // 60} min budget); loaded in full")
            warned = True
    return spent


@dataclass
class Timing:
    p50: float | None = None
    p95: float | None = None
    runs: int = 0
    rows: int | None = None
    error: str | None = None


def time_query(fn: Callable[[], int], runs: int) -> Timing:
    try:
        warm = []
        for _ in range(WARMUPS):
            started = time.perf_counter()
            rows = fn()
            warm.append(time.perf_counter() - started)
        runs = max(5, min(runs, int(QUERY_BUDGET_S / max(warm[-1], 1e-9)))) if warm[-1] * runs > QUERY_BUDGET_S \
            else runs
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            rows = fn()
            samples.append((time.perf_counter() - started) * 1000)
    except Exception as exc:  # a store error is a result: reported in the table, the run goes on
        return Timing(error=f"{type(exc).__name__}: {exc}"[:160])
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return Timing(cuts[49], cuts[94], runs, rows)


def dashboard_queries(store: Any, data: Dataset, busy: str, numeric: str) -> list[tuple[str, Callable[[], int]]]:
    now = EPOCH + dt.timedelta(microseconds=data.end_us)
    day, week = EventFilter(start=now - dt.timedelta(hours=24)), now - dt.timedelta(days=7)
    cursor = store.query(day, limit=100).next_cursor
    chain = max(data.chains[len(data.chains) // 2:], key=lambda c: c[2])  # a full chain from mid-range
    return [
        ("1 recent events, 24 h, page of 100", lambda: len(store.query(day, limit=100).items)),
        ("2 next page (cursor)", lambda: len(store.query(day, limit=100, cursor=cursor).items)),
        (f"3 entity history 7 d, 500 (`{busy}`)",
         lambda: len(store.query(EventFilter(entity_id=busy, start=week), limit=500).items)),
        ("4 counts by domain, 24 h", lambda: len(store.counts(day, by="domain"))),
        ("5 top 10 entities, 24 h", lambda: len(store.counts(day, by="entity_id", limit=10))),
        (f"6 5-min buckets 24 h (`{numeric}`)",
         lambda: len(store.buckets(EventFilter(entity_id=numeric, start=day.start), 300))),
        ("7 1-h buckets 7 d, all events", lambda: len(store.buckets(EventFilter(start=week), 3600))),
        ('8 text "living", 24 h, page of 100',
         lambda: len(store.query(EventFilter(start=day.start, text="living"), limit=100).items)),
        ("9 by_context (automation run)", lambda: len(store.by_context(chain[1]))),
        ("10 by_parent (its trigger)", lambda: len(store.by_parent(chain[0]))),
        ("11 durations 7 d, domain light", lambda: len(store.durations(EventFilter(domain="light", start=week)))),
    ]


@dataclass
class Result:
    writes: dict[int, float | str] = field(default_factory=dict)
    load: Load = field(default_factory=Load)
    queries: dict[str, Timing] = field(default_factory=dict)
    error: str | None = None


def run_backend(backend: Any, data: Dataset, write_sets: dict[int, list[dict[str, Any]]], runs: int,
                busy: str, numeric: str, result: Result, notes: list[str]) -> None:
    progress(f"{backend.name}: starting")
    backend.start()
    for batch, records in write_sets.items():
        store = open_fresh(backend, f"bench_write_{batch}")
        try:
            result.writes[batch] = write_rate(store, records, batch)
        except Exception as exc:
            result.writes[batch] = f"{type(exc).__name__}: {exc}"[:120]
        finally:
            store.close()
        progress(f"{backend.name}: batch {batch}: {result.writes[batch]}")
    store = open_fresh(backend, "bench_load")
    try:
        result.load.seconds = load(store, data.records, backend.name, notes)
        result.load.events = len(data.records)
        progress(f"{backend.name}: loaded {len(data.records):,} in {result.load.seconds:.0f} s")
        note = backend.after_load("bench_load")
        if note:
            notes.append(note)
        stored = store.count(EventFilter())
        if stored != len(data.records):
            notes.append(f"{backend.name}: {stored:,} events stored of {len(data.records):,} written")
        for label, fn in dashboard_queries(store, data, busy, numeric):
            result.queries[label] = timing = time_query(fn, runs)
            progress(f"{backend.name}: {label}: {timing}")
            if timing.runs and timing.runs < runs:
                notes.append(f"{backend.name}: query {label.split()[0]} ran {timing.runs} times, not {runs} "
                             f"(p50 {timing.p50:,.0f} ms; kept within ~{QUERY_BUDGET_S} s)")
        result.load.size = backend.size("bench_load")
    finally:
        store.close()


# --- reporting ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q`th percentile (0-100) of `values`: with 20 calls, p95 is the 19th fastest."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def cpu_check() -> str:
    """ms of a fixed pure-Python loop (the fastest of three): this machine's own speed moves by a third from minute to
    minute with nothing else running (0.90-1.31 s for 10 million additions, 2026-12-03), so a table's figures are
    read beside it."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return f"CPU check {best * 1000:.0f} ms (2 million additions in Python, the fastest of three)"


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size else "–"


def report(names: list[str], results: dict[str, Result], home: Home, data: Dataset, runs: int, busy: str,
           numeric: str, notes: list[str], wall: float) -> None:
    print(f"# event store, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
    print()
    print(f"Data: {describe(home, data)}.")
    print()
    print("## write throughput (events/s; fresh database per backend and batch size; time in store.write only)")
    print()
    print("| backend | " + " | ".join(f"batch {b:,} ({n:,} events)" for b, n in WRITES) + " |")
    print("|---|" + "---:|" * len(WRITES))
    for name in names:
        cells = []
        for batch, _ in WRITES:
            value = results[name].writes.get(batch)
            cells.append("–" if value is None else value if isinstance(value, str) else f"{value:,.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print(f"## load of {len(data.records):,} events (batches of {LOAD_BATCH:,})")
    print()
    print("| backend | load time (s) | events/s | on disk |")
    print("|---|---:|---:|---:|")
    for name in names:
        loaded = results[name].load
        rate = f"{loaded.events / loaded.seconds:,.0f}" if loaded.seconds else "–"
        seconds = f"{loaded.seconds:,.0f}" if loaded.seconds else "–"
        print(f"| {name} | {seconds} | {rate} | {megabytes(loaded.size)} |")
    print()
    print("On disk: SQLite file + WAL; PostgreSQL pg_database_size; InfluxDB the database's data + wal directories.")
    print()
    print(f"## query latency (ms, p50 / p95 of {runs} runs after {WARMUPS} warm-ups; {len(data.records):,} events; "
          f"now = end of the data)")
    print()
    print("| query | " + " | ".join(f"{n} p50 | {n} p95" for n in names) + " | rows (" + " / ".join(names) + ") |")
    print("|---|" + "---:|---:|" * len(names) + "---:|")
    labels = next((list(r.queries) for r in results.values() if r.queries), [])
    for label in labels:
        cells, rows = [], []
        for name in names:
            timing = results[name].queries.get(label)
            if timing is None or timing.error:
                cells.append(f"{'error' if timing else '–'} | –")
                rows.append("–")
                continue
            suffix = f" (n={timing.runs})" if timing.runs < runs else ""
            cells.append(f"{ms(timing.p50)}{suffix} | {ms(timing.p95)}")
            rows.append(f"{timing.rows:,}")
        shown = rows[0] if len(set(rows)) == 1 else " / ".join(rows)
        print(f"| {label} | " + " | ".join(cells) + f" | {shown} |")
    errors = [f"{name}: query {label.split()[0]}: {t.error}" for name in names
              for label, t in results[name].queries.items() if t.error]
    errors += [f"{name}: {results[name].error}" for name in names if results[name].error]
    if notes or errors:
        print()
        print("Notes:")
        for line in [*notes, *errors]:
            print(f"- {line}")
    print()
    minutes, seconds = divmod(round(wall), 60)
    print(f"Total wall time: {minutes} min {seconds:02d} s.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events loaded for the query latencies")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma list of " + ", ".join(BACKENDS))
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each query")
    args = parser.parse_args()
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = set(names) - set(BACKENDS)
    if unknown or not names:
        parser.error(f"unknown backends {sorted(unknown)}: choose from {', '.join(BACKENDS)}")
    began = time.perf_counter()
    end_us = int(dt.datetime.now(dt.UTC).replace(second=0, microsecond=0).timestamp()) * 1_000_000
    start_us = end_us - DAYS * DAY_US
    home = Home()
    progress(f"generating {args.events:,} events")
    data = home.generate(args.events, start_us, end_us, seed=1, namespace="load")
    write_sets = {batch: home.generate(total, start_us, end_us, seed=batch + 2, namespace=f"write{batch}").records
                  for batch, total in WRITES}
    recent = Counter(r["entity_id"] for r in data.records if r["time_fired"] >= stamp(end_us - 7 * DAY_US))
    busy = recent.most_common(1)[0][0]
    numeric = "sensor.living_room_temperature"
    gc.freeze()  # millions of long-lived dicts: keep the collector from re-scanning them during timings
    progress(f"generated in {time.perf_counter() - began:.0f} s; {describe(home, data)}")
    results = {name: Result() for name in names}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ha-ingestor-bench-") as tmp:
        backends = {"sqlite": SqliteBackend(Path(tmp)), "postgresql": PostgresBackend(), "influxdb1": InfluxBackend(),
                    "influxdb1-ha": InfluxBackend("homeassistant")}
        try:
            for name in names:
                try:
                    run_backend(backends[name], data, write_sets, args.runs, busy, numeric, results[name], notes)
                except Exception as exc:  # one backend failing still reports the others
                    traceback.print_exc()
                    results[name].error = f"{type(exc).__name__}: {exc}"[:300]
                finally:
                    backends[name].cleanup()  # stop each server once measured, so it does not load the next
        finally:
            for backend in backends.values():
                backend.cleanup()
    report(names, results, home, data, args.runs, busy, numeric, notes, time.perf_counter() - began)


if __name__ == "__main__":
    main()
