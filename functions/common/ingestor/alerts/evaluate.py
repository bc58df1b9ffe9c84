"""One evaluation: read what the rules need, open and close alerts, publish their starts and ends.

Rules that could not be evaluated (the event store is down, a read failed) leave their open alerts as they
are: an alert closes only when its rule, evaluated, no longer finds the problem. The alerts are written
before they are published; what could not be published (NATS down) is published at a later tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ingestor import bus, hometime, metrics, subjects
from ingestor import settings as settings_
from ingestor.alerts import events, rules
from ingestor.alerts.rules import Finding
from ingestor.alerts.settings import Settings
from ingestor.alerts.store import Alert, AlertStore
from ingestor.energy import reading
from ingestor.energy.meters import ENERGY_UNITS, POWER_UNITS
from ingestor.httpapi import iso
from ingestor.store.model import EventFilter
from ingestor.store.protocol import EventStore
from ingestor.store.timerange import to_micros

log = logging.getLogger(__name__)
HOUR_S = 3600
HOUR_US = HOUR_S * 1_000_000
_opened = metrics.counter("alerts_opened_total", "Alerts opened, by rule", ["rule"])
_closed = metrics.counter("alerts_closed_total", "Alerts closed, by rule", ["rule"])
_seconds = metrics.histogram("alert_evaluation_seconds", "Time one evaluation of the alert rules takes")
UNAVAILABLE_STATES = ("unavailable", "unknown")


@dataclass
class Outcome:
    evaluated_at: str
    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # rule -> why it was not evaluated
    published: int = 0
    unpublished: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"evaluated_at": self.evaluated_at, "opened": self.opened, "closed": self.closed,
                "skipped": self.skipped, "published": self.published, "unpublished": self.unpublished,
                "seconds": round(self.seconds, 4)}


def store_findings(store: EventStore, now: dt.datetime, settings: Settings,
                   power: dict[str, str] | None = None, open_usual: dict[str, float] | None = None,
                   clock: hometime.HomeClock = hometime.UTC_CLOCK, meters: dict[str, str] | None = None
                   ) -> list[Finding]:
    """The rules that read the event store (a read failure raises: the caller skips them). `power` and `meters`:
    the power sensors and energy meters and their units (from the metadata DB); `open_usual`: the open silence
    alerts' usual intervals (rules.silent); `clock`: the home's (its hours of the day)."""
    baseline = EventFilter(start=now - dt.timedelta(seconds=settings.silent_baseline_s), end=now)
    counts = {k: n for k, n in store.counts(baseline, "entity_id", settings.max_entities) if k}
    seen = {k: t for k, t in store.last_seen(EventFilter(end=now), "entity_id", settings.max_entities) if k}
    found = rules.silent(counts, seen, now, settings, open_usual)
    spikes: dict[str, int] = {}
    window = now - dt.timedelta(seconds=settings.unavailable_window_s)
    for state in UNAVAILABLE_STATES:
        for entity, n in store.counts(EventFilter(start=window, end=now, state=state), "entity_id",
                                      settings.max_entities):
            if entity:
                spikes[entity] = spikes.get(entity, 0) + n
    found += rules.unavailable(spikes, settings)
    found += rules.battery(_battery_levels(store, [e for e in seen if "battery" in e and
                                                   e.startswith("sensor.")], now), settings)
    found += rules.energy(hourly_ranges(store, power or {}, now, settings, clock) +
                          meter_ranges(store, meters or {}, now, settings, clock), settings)
    return found


def hourly_ranges(store: EventStore, power: dict[str, str], now: dt.datetime, settings: Settings,
                  clock: hometime.HomeClock = hometime.UTC_CLOCK) -> list[rules.HourlyRange]:
    """Each power sensor's mean over the last whole hour and its means of the same hour of the home's day on the
    earlier days (the same UTC hour but across a change of summer time, when it is the hour beside it): one read
    of the hourly rollups for every sensor."""
    if not power:
        return []
    hour, first = _hours(now, settings)
    found = store.series_columns(sorted(power), first, hour + dt.timedelta(hours=1), HOUR_S)
    return [r for entity, columns in found.items() if (r := _range(
        entity, power[entity], hour, {t: m for t, m in zip(columns.start, columns.mean, strict=True) if m is not None},
        settings, clock))]


def meter_ranges(store: EventStore, meters: dict[str, str], now: dt.datetime, settings: Settings,
                 clock: hometime.HomeClock = hometime.UTC_CLOCK) -> list[rules.HourlyRange]:
    """Each energy meter's kWh in the last whole hour and in the same hour of the home's day on the earlier days,
    by HA's total_increasing rule (energy/reading.py: across resets); an hour whose energy spans a gap (no reading
    in the hour before) is left out, as it holds more than its own."""
    if not meters:
        return []
    hour, first = _hours(now, settings)
    found = reading.meter_hours(store, sorted(meters), first, hour + dt.timedelta(hours=1))
    factor = {e: ENERGY_UNITS.get(unit, 1.0) for e, unit in meters.items()}
    return [r for entity, hours in found.items() if (r := _range(
        entity, "kWh", hour, {t: kwh * factor[entity] for t, kwh, span in zip(
            hours.start, hours.energy, hours.span_h, strict=True) if span == 1}, settings, clock))]


def _hours(now: dt.datetime, settings: Settings) -> tuple[dt.datetime, dt.datetime]:
    """The last whole hour's start, and the start of the read: its hour `energy_days` ago and the hour before
    (which that hour of the home's day is on days before a change of summer time)."""
    hour = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    return hour, hour - dt.timedelta(days=settings.energy_days, hours=1)


def _range(entity: str, unit: str, hour: dt.datetime, values: dict[int, float], settings: Settings,
           clock: hometime.HomeClock) -> rules.HourlyRange | None:
    """The last hour's value against those of the same hour of the home's day on earlier days (None: no value)."""
    last = to_micros(hour)
    if last not in values:
        return None
    local = clock.hour_of_day(last)
    same = {last - d * 24 * HOUR_US + shift for d in range(1, settings.energy_days + 1)
            for shift in (-HOUR_US, 0, HOUR_US)}
    earlier = [v for t, v in values.items() if t in same and clock.hour_of_day(t) == local]
    return rules.HourlyRange(entity, unit, hour, values[last], earlier, clock.clock(last), clock.name)


def _battery_levels(store: EventStore, entities: list[str], now: dt.datetime) -> dict[str, tuple[float, dt.datetime]]:
    """Each battery sensor's latest numeric reading in % (one newest-first read each)."""
    levels = {}
    for entity in entities:
        items = store.query(EventFilter(entity_id=entity, end=now), limit=1).items
        if not items:
            continue
        item = items[0]
        value, unit = item.get("state_value"), (item.get("attributes") or {}).get("unit_of_measurement")
        if isinstance(value, int | float) and unit in (None, "%"):
            levels[entity] = (float(value), _time(item.get("time_fired")) or now)
    return levels


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


class Evaluator:
    def __init__(self, alerts: AlertStore, base: Settings, event_store: Callable[[], EventStore],
                 status: Callable[[], dict[str, Any]], nats: bus.Bus | None = None) -> None:
        self.alerts = alerts
        self.base = base  # the environment's thresholds; those changed through the API override them
        self._event_store = event_store
        self._status = status  # health's GET / body
        self._nats = nats
        self._unpublished = False  # publishing failed: logged once, until it succeeds again

    def settings(self) -> Settings:
        """The thresholds in force: the environment's, with those changed through the API."""
        return settings_.override(self.base, self.alerts.thresholds())

    @property
    def nats(self) -> bus.Bus:
        return self._nats or bus.default()

    def evaluate(self, now: dt.datetime | None = None) -> Outcome:
        started = time.perf_counter()
        now = now or dt.datetime.now(dt.UTC)
        outcome = Outcome(iso(now) or "")
        settings = self.settings()
        status = self._status()
        components = status.get("components") or []
        active = {a.key: a for a in self.alerts.active()}
        found = rules.components(components, settings)
        evaluated = set(rules.COMPONENT_RULES)
        if not any(c["name"] == "dlq" and "in_window" in (c.get("details") or {}) for c in components):
            evaluated.discard(rules.DEAD_LETTERS)  # not counted this time: its alert neither opens nor closes
            outcome.skipped[rules.DEAD_LETTERS] = "the dead letters could not be counted"
        if any(f.rule == rules.STORE_DOWN for f in found):
            outcome.skipped |= {rule: "the event store is down" for rule in rules.STORE_RULES}
        else:
            try:
                silent = {a.subject: float(a.evidence["usual_interval_s"]) for a in active.values()
                          if a.rule == rules.SILENT}
                read = store_findings(self._event_store(), now, settings, self.alerts.sensors_in(POWER_UNITS), silent,
                                      self.alerts.home_clock(), self.alerts.sensors_in(ENERGY_UNITS))
                gone = self.alerts.removed({f.subject for f in read if f.rule == rules.SILENT})
                found += [f for f in read if not (f.rule == rules.SILENT and f.subject in gone)]
                evaluated |= set(rules.STORE_RULES)
            except Exception as exc:  # noqa: BLE001 - any store failure: its rules wait for the next tick
                why = f"{type(exc).__name__}: {exc}"
                outcome.skipped |= {rule: why for rule in rules.STORE_RULES}
                log.warning("alert rules that read the event store not evaluated", extra={"error": why})
        self._apply(active, found, evaluated, now, outcome)
        self._publish(outcome)
        outcome.seconds = time.perf_counter() - started
        _seconds.observe(outcome.seconds)
        return outcome

    def _apply(self, active: dict[tuple[str, str], Alert], found: list[Finding], evaluated: set[str],
               now: dt.datetime, outcome: Outcome) -> None:
        findings = {f.key: f for f in found}
        opening = [f for key, f in findings.items() if key not in active]
        closing = [(a, {"resolved": True, "evaluated_at": iso(now)}) for key, a in active.items()
                   if a.rule in evaluated and key not in findings]
        opened = self.alerts.apply(opening, closing, iso(now) or "")
        for f in opened:
            _opened.labels(f.rule).inc()
            log.warning("alert opened", extra={"rule": f.rule, "subject": f.subject, "severity": f.severity})
            outcome.opened.append(f"{f.rule}:{f.subject}")
        for alert, _ in closing:
            _closed.labels(alert.rule).inc()
            log.info("alert closed", extra={"rule": alert.rule, "subject": alert.subject})
            outcome.closed.append(f"{alert.rule}:{alert.subject}")

    def _publish(self, outcome: Outcome) -> None:
        """Each unpublished start and end, in order; NATS refusing: logged once, retried at each tick."""
        pending = self.alerts.unsent()
        for index, alert in enumerate(pending):
            sent = [events.event(alert, events.STARTED)] if not alert.start_sent else []
            if alert.ended_at is not None:
                sent.append(events.event(alert, events.ENDED))
            try:
                for event in sent:
                    self.nats.publish_batch(subjects.ALERTS, event["event_id"], [event])
            except Exception as exc:  # noqa: BLE001 - the rows stay unsent: the next tick publishes them
                outcome.unpublished = len(pending) - index
                if not self._unpublished:
                    log.warning("alert events not published; retried at each evaluation until they are",
                                extra={"error": f"{type(exc).__name__}: {exc}", "waiting": outcome.unpublished})
                self._unpublished = True
                return
            self.alerts.mark_sent(alert)
            outcome.published += len(sent)
        if self._unpublished and pending:
            log.info("alert events published again", extra={"published": outcome.published})
        self._unpublished = False


def as_list(found: list[Alert]) -> list[dict[str, Any]]:
    return [a.as_dict() for a in found]
