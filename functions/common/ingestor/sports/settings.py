"""Which teams are followed, where ESPN is, and how often it is asked, from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestor import config, settings
from ingestor.settings import setting
from ingestor.sports.espn import PATHS


@dataclass(frozen=True)
class Settings:
    teams: dict[str, frozenset[str]] = field(default_factory=dict)
    """League -> team abbreviations, upper case (SPORTS_TEAMS, read by parse_teams)."""
    problems: list[str] = field(default_factory=list)
    """SPORTS_TEAMS entries that were ignored, and why."""
    base_url: str = setting("ESPN_BASE_URL", "https://site.api.espn.com", parse=lambda raw: raw.rstrip("/"))
    live_ttl_s: float = setting("SPORTS_LIVE_TTL_S", 15.0)
    upcoming_ttl_s: float = setting("SPORTS_UPCOMING_TTL_S", 300.0)
    upcoming_days: int = setting("SPORTS_UPCOMING_DAYS", 7)
    timeout_s: float = setting("SPORTS_TIMEOUT_S", 3.0)
    breaker_threshold: int = setting("SPORTS_BREAKER_THRESHOLD", 3)
    breaker_reset_s: float = setting("SPORTS_BREAKER_RESET_S", 120.0)
    rate_per_min: float = setting("SPORTS_RATE_PER_MIN", 30.0)
    loop_s: float = setting("SPORTS_LIVE_LOOP_S", 48.0)

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
    return settings.load(Settings, teams=teams, problems=problems)
