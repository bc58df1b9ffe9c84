"""Which events reach which webhook.

Home Assistant events (on ha.events.enriched) match a webhook whose HA filters (event_types,
entity_ids, domains, areas) are set when every non-empty field matches: AND across fields, OR
within one. `event_types: ["*"]` is every type; entity_ids are fnmatch globs ("sensor.*_temp").
Sports events (domain "sports", on sports.events) match only webhooks with `teams` and/or
`game_events`: a team matches the home or away abbreviation, case-insensitive, optionally scoped to a
league as "nfl:SF". A webhook with only HA filters never gets sports events, and the other way round.
Alerts (domain "alert", on ha.alerts) match only webhooks with `alert_events` (alert_started, alert_ended).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

HA_FIELDS = ("event_types", "entity_ids", "domains", "areas")
SPORTS_FIELDS = ("teams", "game_events")
ALERT_FIELDS = ("alert_events",)
FIELDS = HA_FIELDS + SPORTS_FIELDS + ALERT_FIELDS
GAME_EVENTS = ("game_started", "score_changed", "game_ended")
ALERT_EVENTS = ("alert_started", "alert_ended")  # ingestor.alerts.events
MAX_ITEMS = 100

_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "event_types": (re.compile(r"^(\*|[A-Za-z0-9_.:-]{1,64})$"), "an event type such as state_changed, or *"),
    "entity_ids": (re.compile(r"^[a-z0-9_.*?\[\]!-]{1,255}$"), "an entity id or glob such as sensor.*_temperature"),
    "domains": (re.compile(r"^[a-z0-9_]{1,64}$"), "a domain such as light"),
    "areas": (re.compile(r"^[^\x00-\x1f]{1,255}$"), "an area id such as living_room"),
    "teams": (re.compile(r"^([A-Za-z]{2,8}:)?[A-Za-z0-9]{1,8}$"), "a team abbreviation such as SF or nfl:SF"),
    "game_events": (re.compile(r"^(game_started|score_changed|game_ended)$"), "one of " + ", ".join(GAME_EVENTS)),
    "alert_events": (re.compile(r"^(alert_started|alert_ended)$"), "one of " + ", ".join(ALERT_EVENTS)),
}


class FilterError(ValueError):
    """A filter is malformed; the message names the field."""


def clean(raw: Any) -> dict[str, list[str]]:
    """Checked filters with every field present (empty list when unset); FilterError otherwise."""
    if not isinstance(raw, dict):
        raise FilterError("filters: expected an object")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise FilterError(f"filters.{unknown[0]}: unknown field; expected {', '.join(FIELDS)}")
    out: dict[str, list[str]] = {}
    for name in FIELDS:
        value = raw.get(name)
        if value is None:
            out[name] = []
            continue
        if not isinstance(value, list):
            raise FilterError(f"filters.{name}: expected a list of strings")
        if len(value) > MAX_ITEMS:
            raise FilterError(f"filters.{name}: at most {MAX_ITEMS} items, got {len(value)}")
        pattern, accepted = _PATTERNS[name]
        items: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.match(item):
                shown = repr(item)[:60]
                raise FilterError(f"filters.{name}[{index}]: expected {accepted}, got {shown}")
            if item not in items:
                items.append(item)
        out[name] = items
    if not any(out.values()):
        raise FilterError("filters: at least one filter is required (event_types: [\"*\"] for every HA event)")
    return out


@dataclass(frozen=True)
class Matcher:
    """One webhook's filters, prepared for fast matching."""

    event_types: frozenset[str]
    any_type: bool
    entity_globs: tuple[str, ...]
    domains: frozenset[str]
    areas: frozenset[str]
    teams: tuple[tuple[str | None, str], ...]  # (league or None, abbreviation), lower case
    game_events: frozenset[str]
    alert_events: frozenset[str] = frozenset()

    @property
    def wants_ha(self) -> bool:
        return bool(self.event_types or self.entity_globs or self.domains or self.areas)

    @property
    def wants_sports(self) -> bool:
        return bool(self.teams or self.game_events)

    def matches(self, event: dict[str, Any]) -> bool:
        if is_alert(event):
            return event.get("event_type") in self.alert_events
        return self._sports(event) if is_sports(event) else self._ha(event)

    def _ha(self, event: dict[str, Any]) -> bool:
        if not self.wants_ha:
            return False
        if self.event_types and not self.any_type and event.get("event_type") not in self.event_types:
            return False
        entity = event.get("entity_id")
        if self.entity_globs and not (isinstance(entity, str)
                                      and any(fnmatch.fnmatchcase(entity, g) for g in self.entity_globs)):
            return False
        if self.domains and event.get("domain") not in self.domains:
            return False
        return not (self.areas and event.get("area_id") not in self.areas)

    def _sports(self, event: dict[str, Any]) -> bool:
        if not self.wants_sports:
            return False
        if self.game_events and event.get("event_type") not in self.game_events:
            return False
        if not self.teams:
            return True
        league = str(event.get("league") or "").lower()
        playing = {str(t).lower() for t in _teams_of(event)}
        return any(abbr in playing and (want is None or want == league) for want, abbr in self.teams)


def _teams_of(event: dict[str, Any]) -> Iterable[Any]:
    teams = event.get("teams")
    if isinstance(teams, list):
        yield from teams
    for side in ("home", "away"):
        part = event.get(side)
        if isinstance(part, dict) and part.get("abbreviation"):
            yield part["abbreviation"]


def is_sports(event: dict[str, Any]) -> bool:
    return event.get("domain") == "sports"


def is_alert(event: dict[str, Any]) -> bool:
    return event.get("domain") == "alert"


def matcher(filters: dict[str, list[str]]) -> Matcher:
    teams = []
    for team in filters.get("teams") or []:
        league, _, abbr = team.rpartition(":")
        teams.append((league.lower() or None, abbr.lower()))
    types = frozenset(filters.get("event_types") or [])
    return Matcher(event_types=types, any_type="*" in types, entity_globs=tuple(filters.get("entity_ids") or []),
                   domains=frozenset(filters.get("domains") or []), areas=frozenset(filters.get("areas") or []),
                   teams=tuple(teams), game_events=frozenset(filters.get("game_events") or []),
                   alert_events=frozenset(filters.get("alert_events") or []))
