"""The rules: plain data in (what the store and the health probes found), findings out. No I/O here.

A finding names its rule and subject (an entity id or a component); an open alert with the same pair is the
same problem, still there. Every finding carries the figures it rests on (`evidence`) and the threshold.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from ingestor.alerts.settings import Settings
from ingestor.httpapi import iso

Severity = Literal["warning", "critical"]
SILENT, UNAVAILABLE, BATTERY, ENERGY = "sensor_silent", "unavailable_spike", "low_battery", "energy_outlier"
BRIDGE_DOWN, STORE_DOWN, NATS_DOWN, LAG, DEAD_LETTERS = (
    "bridge_down", "store_down", "nats_down", "pipeline_lag", "dead_letters")
STORE_RULES = (SILENT, UNAVAILABLE, BATTERY, ENERGY)
"""The rules that read the event store: not evaluated (their alerts kept as they are) while it is down."""
COMPONENT_RULES = (BRIDGE_DOWN, STORE_DOWN, NATS_DOWN, LAG, DEAD_LETTERS)


@dataclass(frozen=True)
class Finding:
    rule: str
    subject: str
    severity: Severity
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.subject


def ignored(entity_id: str, settings: Settings) -> bool:
    return any(fnmatch.fnmatchcase(entity_id, glob) for glob in settings.ignore)


def silent(counts: dict[str, int], last_seen: dict[str, dt.datetime], now: dt.datetime,
           settings: Settings, open_usual: dict[str, float] | None = None) -> list[Finding]:
    """An entity of the watched domains silent for `silent_factor` times its usual interval (the baseline
    window over its event count in it), and at least `silent_min_s`. `open_usual`: the usual interval of each
    entity whose silence alert is open, as it was when the alert opened: a dead sensor's events leave the
    baseline window within a day, and its alert must stay open until it sends again, not close as if it had."""
    found = []
    for entity in {*counts, *(open_usual or {})}:
        last, count = last_seen.get(entity), counts.get(entity, 0)
        if last is None or ignored(entity, settings) or entity.split(".", 1)[0] not in settings.silent_domains:
            continue
        if count >= settings.silent_min_events:
            usual = settings.silent_baseline_s / count
        elif open_usual and entity in open_usual:
            usual = open_usual[entity]
        else:
            continue
        bound = max(usual * settings.silent_factor, settings.silent_min_s)
        quiet = (now - last).total_seconds()
        if quiet > bound:
            found.append(Finding(SILENT, entity, "warning",
                                 f"{entity} has sent nothing for {_duration(quiet)}; it usually reports every "
                                 f"{_duration(usual)}",
                                 {"last_seen": iso(last), "silent_s": round(quiet, 1), "usual_interval_s":
                                  round(usual, 1), "events_in_baseline": count, "baseline_s":
                                  settings.silent_baseline_s, "threshold_s": round(bound, 1)}))
    return sorted(found, key=lambda f: f.subject)


def unavailable(counts: dict[str, int], settings: Settings) -> list[Finding]:
    """An entity that became 'unavailable' or 'unknown' `unavailable_count` times or more within the window."""
    return [Finding(UNAVAILABLE, entity, "warning",
                    f"{entity} became unavailable or unknown {count} times in the last "
                    f"{_duration(settings.unavailable_window_s)}",
                    {"count": count, "window_s": settings.unavailable_window_s,
                     "threshold": settings.unavailable_count})
            for entity, count in sorted(counts.items())
            if count >= settings.unavailable_count and not ignored(entity, settings)]


def battery(levels: dict[str, tuple[float, dt.datetime]], settings: Settings) -> list[Finding]:
    """A battery level (its latest reading, in %) below `battery_pct`."""
    return [Finding(BATTERY, entity, "warning", f"{entity} is at {level:g} % (below {settings.battery_pct:g} %)",
                    {"level": level, "at": iso(at), "threshold_pct": settings.battery_pct})
            for entity, (level, at) in sorted(levels.items())
            if level < settings.battery_pct and not ignored(entity, settings)]


@dataclass(frozen=True)
class HourlyRange:
    """A power sensor's mean over the last whole hour (or an energy meter's kWh in it), and the same of the same
    hour of the home's day on earlier days."""

    entity_id: str
    unit: str
    hour: dt.datetime  # the start of the last whole hour (UTC)
    value: float
    earlier: list[float]
    local: str  # that start on the home's clock, e.g. "17:00"
    time_zone: str  # the home's (HA's time zone; UTC while HA's config is not known)


def energy(ranges: list[HourlyRange], settings: Settings) -> list[Finding]:
    """A power reading (or a meter's energy) far outside its usual range for that hour of the home's day: further
    than `energy_sigma` standard deviations from the earlier days' mean, and by more than `energy_min_delta` of
    that mean."""
    found = []
    for r in ranges:
        if len(r.earlier) < settings.energy_min_days or ignored(r.entity_id, settings):
            continue
        mean = statistics.fmean(r.earlier)
        spread = statistics.pstdev(r.earlier)
        delta = abs(r.value - mean)
        if delta > settings.energy_sigma * spread and delta > settings.energy_min_delta * abs(mean):
            way = "above" if r.value > mean else "below"
            verb = "used" if r.unit == "kWh" else "averaged"  # a meter's energy in the hour, a power sensor's mean
            found.append(Finding(ENERGY, r.entity_id, "warning",
                                 f"{r.entity_id} {verb} {r.value:.4g} {r.unit} from {r.local} ({r.time_zone}), {way} "
                                 f"its usual {mean:.4g} ± {spread:.2g} {r.unit} for that hour",
                                 {"hour": iso(r.hour), "local_hour": r.local,
                                  "time_zone": r.time_zone, "value": round(r.value, 3), "unit": r.unit,
                                  "usual_mean": round(mean, 3), "usual_stdev": round(spread, 3),
                                  "usual_min": min(r.earlier), "usual_max": max(r.earlier), "days": len(r.earlier),
                                  "sigma": settings.energy_sigma}))
    return found


def components(found: list[dict[str, Any]], settings: Settings) -> list[Finding]:
    """From health's components (GET /): the bridge, the event store or NATS unhealthy; a consumer's lag over
    health's bound (NATS degraded); dead letters in health's window at or over `dlq_count`."""
    out = []
    for c in found:
        name, status, reasons = c["name"], c["status"], c.get("reasons") or []
        evidence = {"component": name, "status": status, "reasons": reasons}
        if name == "bridge" and status == "unhealthy":
            out.append(Finding(BRIDGE_DOWN, name, "critical", _first("the bridge to Home Assistant is down", reasons),
                               evidence))
        elif name == "event-store" and status == "unhealthy":
            out.append(Finding(STORE_DOWN, name, "critical", _first("the event store is down", reasons), evidence))
        elif name == "nats" and status == "unhealthy":
            out.append(Finding(NATS_DOWN, name, "critical", _first("NATS is down", reasons), evidence))
        elif name == "nats" and status == "degraded":
            out.append(Finding(LAG, name, "warning", _first("the pipeline is lagging", reasons), evidence))
        elif name == "dlq":
            details = c.get("details") or {}
            count = details.get("in_window") or 0
            if count >= settings.dlq_count:
                out.append(Finding(DEAD_LETTERS, name, "warning",
                                   f"{count} dead letters in the last {_duration(details.get('window_s') or 0)}",
                                   {**evidence, "in_window": count, "window_s": details.get("window_s"),
                                    "by_reason": details.get("by_reason") or [], "threshold": settings.dlq_count}))
    return out


def _first(what: str, reasons: list[str]) -> str:
    return f"{what}: {reasons[0]}" if reasons else what


def _duration(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
