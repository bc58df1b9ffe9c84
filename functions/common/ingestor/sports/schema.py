"""Sports tables of the metadata DB (Migration 3): games, their score timeline, and each league feed's state.

`games` holds the last observed state of every game of a configured team; event detection compares a new
scoreboard with it, so detection survives restarts. `version` makes the compare-and-update optimistic: two
overlapping polls cannot both record (and announce) the same change. `game_scores` gets one row per observed
change of score or status. `sports_feeds` is the poller's view of ESPN (breaker, last success), so the query
function, another process, can mark what it serves as stale. Times are fixed-width ISO 8601 UTC strings.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

games = Table(
    "games", metadata,
    Column("game_id", String(64), primary_key=True),
    Column("league", String(16), nullable=False),
    Column("season", Integer),
    Column("season_type", Integer),
    Column("start_time", String(32)),
    Column("status", String(16), nullable=False),  # scheduled | live | final | postponed | canceled
    Column("period", Integer),
    Column("clock", String(32)),
    Column("detail", Text),  # ESPN's shortDetail, e.g. "12:34 - 2nd"
    Column("name", Text),
    Column("home_abbr", String(16), nullable=False),
    Column("home_name", Text),
    Column("home_score", Integer),
    Column("away_abbr", String(16), nullable=False),
    Column("away_name", Text),
    Column("away_score", Integer),
    Column("raw", Text),  # JSON: ESPN status type, team ids, records
    Column("version", Integer, nullable=False, default=1),
    Column("first_seen_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_games_home", "home_abbr", "start_time"),
    Index("ix_games_away", "away_abbr", "start_time"),
    Index("ix_games_start", "start_time"),
)

game_scores = Table(
    "game_scores", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("game_id", String(64), nullable=False),
    Column("t", String(32), nullable=False),
    Column("home_score", Integer),
    Column("away_score", Integer),
    Column("period", Integer),
    Column("clock", String(32)),
    Column("status", String(16), nullable=False),
    Index("ix_game_scores_game", "game_id", "id"),
)

sports_feeds = Table(
    "sports_feeds", metadata,
    Column("league", String(16), primary_key=True),
    Column("last_poll_at", String(32)),
    Column("last_success_at", String(32)),
    Column("result", String(32)),  # fetched | cached | failed | breaker_open
    Column("breaker", String(16)),
    Column("failures", Integer),
    Column("last_error", Text),
    Column("errors_total", Integer, nullable=False, default=0),
)


def create(conn: Connection) -> None:
    """Migration 3 of the metadata DB."""
    metadata.create_all(conn, tables=[games, game_scores, sports_feeds])
