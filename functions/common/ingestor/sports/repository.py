"""The games, their score timeline and the feeds' state in the metadata DB (SQLAlchemy Core, SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from ingestor import jsoncodec
from ingestor.cursors import Keyset
from ingestor.metadata.schema import MIGRATIONS, settings
from ingestor.sports.model import Game, Side
from ingestor.sports.schema import game_scores, games, sports_feeds
from ingestor.store.migrate import upgrade
from ingestor.store.model import StoreError, StoreUnavailable
from ingestor.store.sqlengine import engine_for


@dataclass(frozen=True)
class Stored:
    """A game as last recorded, with the version a compare-and-update must match."""

    game: Game
    version: int


def _row_game(row: Any) -> Game:
    raw = jsoncodec.loads(row.raw) if row.raw else {}
    return Game(
        game_id=row.game_id, league=row.league, status=row.status, start_time=row.start_time, season=row.season,
        season_type=row.season_type, period=row.period, clock=row.clock, detail=row.detail, name=row.name,
        home=Side(row.home_abbr, row.home_name, row.home_score, raw.get("home_record")),
        away=Side(row.away_abbr, row.away_name, row.away_score, raw.get("away_record")),
        raw=raw, updated_at=row.updated_at)


def _game_row(game: Game, now: str) -> dict[str, Any]:
    raw = {**game.raw, "home_record": game.home.record, "away_record": game.away.record}
    return {"league": game.league, "season": game.season, "season_type": game.season_type,
            "start_time": game.start_time, "status": game.status, "period": game.period, "clock": game.clock,
            "detail": game.detail, "name": game.name, "home_abbr": game.home.abbreviation,
            "home_name": game.home.name, "home_score": game.home.score, "away_abbr": game.away.abbreviation,
            "away_name": game.away.name, "away_score": game.away.score, "raw": jsoncodec.dumps(raw).decode(),
            "updated_at": now}


def game_memo(game: Game) -> dict[str, Any]:
    """A game as JSON-ready values (a row of the games table), for the poller's saved feeds."""
    return {**_game_row(game, game.updated_at or ""), "game_id": game.game_id}


def game_of_memo(memo: dict[str, Any]) -> Game:
    return _row_game(SimpleNamespace(**memo))


MEMORY_KEY = "sports.poller."  # + league: the poller's breaker, rate bucket and feeds, in the settings table

GAMES = Keyset((str, str))  # (start_time, game_id)


class GamesRepository:
    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)
        self._insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
        self._ready = False

    @contextmanager
    def _conn(self, write: bool = False) -> Iterator[Connection]:
        """A connection (a transaction when writing); database failures become StoreUnavailable/StoreError."""
        try:
            if not self._ready:
                upgrade(self.engine, MIGRATIONS)
                self._ready = True
            with self.engine.begin() if write else self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreUnavailable(f"metadata DB unavailable: {type(exc.orig).__name__}") from exc
        except DBAPIError as exc:
            raise StoreError(f"metadata DB refused the request: {type(exc.orig).__name__}") from exc

    def stored(self, game_ids: list[str]) -> dict[str, Stored]:
        if not game_ids:
            return {}
        with self._conn() as conn:
            rows = conn.execute(select(games).where(games.c.game_id.in_(game_ids))).all()
        return {row.game_id: Stored(_row_game(row), row.version) for row in rows}

    def record(self, game: Game, previous: Stored | None, now: str, point: bool) -> bool:
        """Store `game` if the stored state is still `previous` (compare-and-update), adding a timeline point
        when `point`. False when another poll changed the game first: its events are already published.
        The first statement of the transaction writes, so SQLite takes the write lock (waiting its busy
        timeout) instead of failing to upgrade a read snapshot another writer has made stale."""
        row = _game_row(game, now)
        with self._conn(write=True) as conn:
            if previous is None:
                stmt: Any = self._insert(games).values(game_id=game.game_id, version=1, first_seen_at=now, **row) \
                    .on_conflict_do_nothing(index_elements=["game_id"])
            else:
                stmt = update(games).where(and_(games.c.game_id == game.game_id,
                                                games.c.version == previous.version)) \
                    .values(version=previous.version + 1, **row)
            if conn.execute(stmt.returning(games.c.game_id)).first() is None:  # rowcount is -1 for some drivers
                return False
            if point:
                conn.execute(insert(game_scores).values(
                    game_id=game.game_id, t=now, home_score=game.home.score, away_score=game.away.score,
                    period=game.period, clock=game.clock, status=game.status))
        return True

    def game(self, game_id: str) -> Game | None:
        found = self.stored([game_id]).get(game_id)
        return found.game if found else None

    def games(self, team: str | None = None, league: str | None = None, status: str | None = None,
              season: int | None = None, limit: int = 50, cursor: str | None = None,
              before: str | None = None, after: str | None = None, ascending: bool = False) -> tuple[list[Game],
                                                                                                    str | None]:
        """Games newest first (or oldest first), filtered; a page and the cursor of the next one."""
        query = select(games)
        if team:
            query = query.where(or_(func.upper(games.c.home_abbr) == team.upper(),
                                    func.upper(games.c.away_abbr) == team.upper()))
        if league:
            query = query.where(games.c.league == league)
        if status:
            query = query.where(games.c.status == status)
        if season is not None:
            query = query.where(games.c.season == season)
        if before is not None:
            query = query.where(games.c.start_time < before)
        if after is not None:
            query = query.where(games.c.start_time >= after)
        start = func.coalesce(games.c.start_time, "")
        if cursor:
            at, game_id = GAMES.decode(cursor)
            query = query.where(or_(start > at, and_(start == at, games.c.game_id > game_id)) if ascending
                                else or_(start < at, and_(start == at, games.c.game_id < game_id)))
        order = (start.asc(), games.c.game_id.asc()) if ascending else (start.desc(), games.c.game_id.desc())
        with self._conn() as conn:
            rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
        page = [_row_game(row) for row in rows[:limit]]
        more = len(rows) > limit
        return page, GAMES.encode(page[-1].start_time or "", page[-1].game_id) if more and page else None

    def timeline(self, game_id: str) -> list[dict[str, Any]]:
        with self._conn() as conn:
            rows = conn.execute(select(game_scores).where(game_scores.c.game_id == game_id)
                                .order_by(game_scores.c.id)).all()
        return [{"t": r._mapping["t"], "home_score": r.home_score, "away_score": r.away_score, "period": r.period,
                 "clock": r.clock, "status": r.status} for r in rows]

    def record_feed(self, league: str, now: str, result: str, breaker: str, failures: int,
                    error: str | None, memory: dict[str, Any] | None = None) -> None:
        """The poller's latest view of a league's feed, in one upsert; a failed poll adds to errors_total.
        `memory` is what the next poller process takes up (`memory()`), saved in the same transaction."""
        failed = 1 if result == "failed" else 0
        values: dict[str, Any] = {"league": league, "last_poll_at": now, "result": result, "breaker": breaker,
                                  "failures": failures, "last_error": error, "errors_total": failed,
                                  "last_success_at": now if result == "fetched" else None}
        stmt = self._insert(sports_feeds).values(**values)
        changes = {k: stmt.excluded[k] for k in ("last_poll_at", "result", "breaker", "failures", "last_error")}
        changes["errors_total"] = sports_feeds.c.errors_total + failed
        if result == "fetched":
            changes["last_success_at"] = stmt.excluded.last_success_at
        with self._conn(write=True) as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["league"], set_=changes))
            if memory is not None:
                saved = self._insert(settings).values(key=MEMORY_KEY + league, value=jsoncodec.dumps(memory).decode(),
                                                      updated_at=now)
                conn.execute(saved.on_conflict_do_update(index_elements=["key"], set_={
                    "value": saved.excluded.value, "updated_at": saved.excluded.updated_at}))

    def memory(self, league: str) -> dict[str, Any]:
        """What the last poller process saved for `league` (empty when none did)."""
        with self._conn() as conn:
            value = conn.execute(select(settings.c.value).where(settings.c.key == MEMORY_KEY + league)).scalar()
        return jsoncodec.loads(value) if value else {}

    def feeds(self) -> dict[str, dict[str, Any]]:
        with self._conn() as conn:
            rows = conn.execute(select(sports_feeds)).all()
        return {r.league: {"last_poll_at": r.last_poll_at, "last_success_at": r.last_success_at, "result": r.result,
                           "breaker": r.breaker, "failures": r.failures, "last_error": r.last_error,
                           "errors_total": r.errors_total} for r in rows}
