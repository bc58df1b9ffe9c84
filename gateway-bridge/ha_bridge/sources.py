"""Which of HA's integrations can give back what the bridge missed during a gap, read at every connect.

`history` (in default_config) holds the state changes, `logbook` (in default_config) automations, scripts,
logbook entries and HA's own start and stop; both read the recorder's database. A minimal configuration
may have neither: the bridge then still captures everything live (it never stops capturing because a
backfill source is missing), says once which integration is missing and what a gap will lose, and
reports it in /health (degraded, with that reason) until HA has it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

RISKS = {
    "history": "HA has no history integration: the state changes of a gap (an HA restart, a bridge restart, a "
               "network drop) cannot be backfilled; add `history:` (or `default_config:`) to configuration.yaml",
    "logbook": "HA has no logbook integration: the automations, scripts, logbook entries and HA start/stop of a gap "
               "cannot be backfilled (the bridge records each gap as ha_disconnected/ha_reconnected instead); "
               "add `logbook:` (or `default_config:`) to configuration.yaml",
}


@dataclass(frozen=True)
class Sources:
    history: bool = True
    logbook: bool = True

    @classmethod
    def of(cls, config: Any) -> Sources:
        """From get_config's `components`; a config without that list is taken to have both (HA decides)."""
        components = config.get("components") if isinstance(config, dict) else None
        if not isinstance(components, list):
            return cls()
        return cls(history="history" in components, logbook="logbook" in components)

    def missing(self) -> list[str]:
        return [name for name in ("history", "logbook") if not getattr(self, name)]

    def risks(self) -> list[str]:
        """What a gap loses with these sources, one sentence per missing integration."""
        return [RISKS[name] for name in self.missing()]

    def doc(self) -> dict[str, bool]:
        return {"history": self.history, "logbook": self.logbook}


def announce(previous: Sources | None, current: Sources) -> None:
    """One warning per missing integration when that changes (not at every reconnect), one line when back."""
    before = set(previous.missing()) if previous else set()
    for name in current.missing():
        if name not in before:
            log.warning(RISKS[name], extra={"integration": name})
    for name in before - set(current.missing()):
        log.info("HA has its integration again: gaps are backfilled from it", extra={"integration": name})
