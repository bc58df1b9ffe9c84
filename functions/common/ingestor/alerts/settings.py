"""The alert rules' thresholds, from the environment (stack.yml's health function; docs/alerts.md)."""

from __future__ import annotations

from dataclasses import dataclass

from ingestor import settings
from ingestor.settings import setting


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    silent_factor: float = setting("ALERT_SILENT_FACTOR", 5.0, minimum=1.0)
    """A sensor is silent after this many times its usual interval without an event ..."""
    silent_min_s: float = setting("ALERT_SILENT_MIN_S", 900.0, minimum=1.0)
    """... and never sooner than this."""
    silent_baseline_s: float = setting("ALERT_SILENT_BASELINE_S", 86_400.0, minimum=60.0)
    """The usual interval: this window divided by the events the entity had in it."""
    silent_min_events: int = setting("ALERT_SILENT_MIN_EVENTS", 12, minimum=2)
    """Entities with fewer events in the baseline window have no usual interval (no silence alert)."""
    silent_domains: tuple[str, ...] = setting("ALERT_SILENT_DOMAINS", ("sensor",), parse=_list)
    unavailable_window_s: float = setting("ALERT_UNAVAILABLE_WINDOW_S", 3600.0, minimum=10.0)
    unavailable_count: int = setting("ALERT_UNAVAILABLE_COUNT", 5, minimum=1)
    """Changes to 'unavailable' or 'unknown' within the window that make a spike."""
    battery_pct: float = setting("ALERT_BATTERY_PCT", 15.0, minimum=0.0, maximum=100.0)
    """A battery sensor (an entity id holding 'battery', in %) reading below this is low."""
    dlq_count: int = setting("ALERT_DLQ_COUNT", 10, minimum=1)
    """Dead letters within health's window (HEALTH_DLQ_WINDOW_S) that raise an alert."""
    energy_days: int = setting("ALERT_ENERGY_DAYS", 14, minimum=2)
    """A power sensor's usual range for an hour of the day: its means of that hour over this many days ..."""
    energy_min_days: int = setting("ALERT_ENERGY_MIN_DAYS", 7, minimum=2)
    """... of which at least this many hold readings (fewer: no usual range, no alert)."""
    energy_sigma: float = setting("ALERT_ENERGY_SIGMA", 4.0, minimum=1.0)
    """The last whole hour's mean further than this many standard deviations from those days' mean ..."""
    energy_min_delta: float = setting("ALERT_ENERGY_MIN_DELTA", 0.25, minimum=0.0)
    """... and further than this fraction of it (a flat history has no spread to speak of)."""
    ignore: tuple[str, ...] = setting("ALERT_IGNORE_ENTITIES", (), parse=_list)
    """Entity-id globs no entity rule applies to."""
    max_entities: int = setting("ALERT_MAX_ENTITIES", 10_000, minimum=1)
    """How many entities one evaluation looks at (the most recently seen)."""

    def describe(self) -> dict[str, object]:
        """Each threshold under the variable that sets it (what a user changes in stack.yml)."""
        return {settings.variable(Settings, name): value for name, value in settings.describe(self).items()}


def load() -> Settings:
    return settings.load(Settings)
