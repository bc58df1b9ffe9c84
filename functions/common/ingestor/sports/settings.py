"""Which teams are followed, where ESPN is, and how often it is asked, from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestor import config
from ingestor.sports.espn import PATHS


@dataclass(frozen=True)
class Settings:
    teams: dict[str, frozenset[str]]  # league -> team abbreviations, upper case
    problems: list[str]  # SPORTS_TEAMS entries that were ignored, and why
    base_url: str
    live_ttl_s: float
    upcoming_ttl_s: float
    upcoming_days: int
    timeout_s: float
    breaker_threshold: int
    breaker_reset_s: float
    rate_per_min: float
    loop_s: float

    @property
    def leagues(self) -> list[str]:
        return sorted(self.teams)


def parse_teams(entries: list[str]) -> tuple[dict[str, frozenset[str]], list[str]]:
    """`league:ABBR` entries; a bare abbreviation is refused (SF, WSH... exist in more than one league)."""
    teams: dict[str, set[str]] = {}
    problems = []
    for entry in entries:
        league, sep, abbr = entry.partition(":")
        league, abbr = league.strip().lower(), abbr.strip().upper()
        if not sep or league not in PATHS or not abbr.isalnum() or len(abbr) > 8:
            problems.append(f"{entry!r}: expected league:TEAM with league one of {', '.join(sorted(PATHS))}")
            continue
        teams.setdefault(league, set()).add(abbr)
    return {league: frozenset(abbrs) for league, abbrs in teams.items()}, problems


def load() -> Settings:
    teams, problems = parse_teams(config.env_list("SPORTS_TEAMS", []))
    return Settings(
        teams=teams, problems=problems,
        base_url=(config.env_str("ESPN_BASE_URL", "https://site.api.espn.com") or "").rstrip("/"),
        live_ttl_s=config.env_float("SPORTS_LIVE_TTL_S", 15),
        upcoming_ttl_s=config.env_float("SPORTS_UPCOMING_TTL_S", 300),
        upcoming_days=config.env_int("SPORTS_UPCOMING_DAYS", 7),
        timeout_s=config.env_float("SPORTS_TIMEOUT_S", 3),
        breaker_threshold=config.env_int("SPORTS_BREAKER_THRESHOLD", 3),
        breaker_reset_s=config.env_float("SPORTS_BREAKER_RESET_S", 120),
        rate_per_min=config.env_float("SPORTS_RATE_PER_MIN", 30),
        loop_s=config.env_float("SPORTS_LIVE_LOOP_S", 48),
    )


def describe(settings: Settings) -> dict[str, Any]:
    return {"teams": {league: sorted(abbrs) for league, abbrs in settings.teams.items()},
            "problems": settings.problems, "base_url": settings.base_url, "live_ttl_s": settings.live_ttl_s,
            "upcoming_ttl_s": settings.upcoming_ttl_s, "upcoming_days": settings.upcoming_days,
            "timeout_s": settings.timeout_s, "rate_per_min": settings.rate_per_min, "live_loop_s": settings.loop_s,
            "breaker": {"threshold": settings.breaker_threshold, "reset_s": settings.breaker_reset_s}}
