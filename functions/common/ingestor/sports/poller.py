"""Polling ESPN for the followed teams' games: cached per feed, guarded by a rate limit and a circuit breaker.

Per league there are two feeds: the default scoreboard (today's / this week's games, live ones included),
fresh for `live_ttl_s` while a followed game is live or due to start, else for `upcoming_ttl_s`; and the
next days (`?dates=YYYYMMDD-YYYYMMDD`), fresh for `upcoming_ttl_s`, from which only scheduled games are
taken (the default scoreboard is the truth for anything under way). A fetch that fails counts against the
league's breaker; while it is open no request is made and nothing is detected, so the games table keeps
the last known state (served as stale by the queries) and no false event can come from a gap.

The breakers, rate buckets and fetched feeds are saved with each league's feed state and taken up by the next
process (sports-poll is stopped between its cron ticks), so a feed fresh for five minutes is not fetched on every
tick and an open breaker stays open.

Order of work for a fetched feed: detect against the stored state, publish the events and score samples,
then store the new state. A crash or DB failure in between re-detects the same changes next time, with the
same ids, which JetStream (Nats-Msg-Id) and webhook-dispatch (delivery id) drop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from ingestor import metrics, subjects
from ingestor.context.resilience import CircuitBreaker, TokenBucket
from ingestor.sports import detect, espn, samples
from ingestor.sports.model import Game
from ingestor.sports.repository import GamesRepository, game_memo, game_of_memo
from ingestor.sports.settings import Settings
from ingestor.timeutil import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)
_polls = metrics.counter("sports_polls_total", "Scoreboard polls, by outcome", ["league", "outcome"])
_errors = metrics.counter("sports_errors_total", "Scoreboard fetches that failed", ["league"])
_events = metrics.counter("sports_game_events_total", "Game events published", ["league", "event_type"])

Publish = Callable[[str, str, list[dict[str, Any]]], None]  # subject, batch id, records


@dataclass
class Feed:
    games: list[Game]
    fetched_at: float  # the poller's clock: wall time, so that another process can judge its age


@dataclass
class Outcome:
    league: str
    result: str  # fetched | cached | failed | breaker_open | rate_limited
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    games: int = 0

    def summary(self) -> dict[str, Any]:
        return {"league": self.league, "result": self.result, "error": self.error, "games": self.games,
                "events": [f"{e['event_type']}:{e['game_id']}" for e in self.events]}


def batch_id(prefix: str, records: list[dict[str, Any]]) -> str:
    return prefix + hashlib.blake2b("".join(r["event_id"] for r in records).encode(), digest_size=12).hexdigest()


class SportsPoller:
    def __init__(self, settings: Settings, repo: GamesRepository, publish: Publish,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.repo = repo
        self.publish = publish
        self.clock, self.sleep = clock, sleep
        self.session = requests.Session()
        self.breakers = {league: CircuitBreaker(settings.breaker_threshold, settings.breaker_reset_s, clock)
                         for league in settings.leagues}
        self.buckets = {league: TokenBucket(settings.rate_per_min, clock=clock) for league in settings.leagues}
        self.feeds: dict[tuple[str, str], Feed] = {}
        self.last_poll: dict[str, dict[str, Any]] = {}
        self.busy = threading.Lock()
        self._recalled = False

    def recall(self) -> None:
        """Take up what an earlier process saved (once: from then on this process holds it)."""
        if self._recalled:
            return
        for league in self.settings.leagues:
            saved = self.repo.memory(league)
            self.breakers[league].restore(saved.get("breaker") or {})
            self.buckets[league].restore(saved.get("bucket") or {})
            for kind, feed in (saved.get("feeds") or {}).items():
                try:
                    self.feeds[(league, kind)] = Feed([game_of_memo(g) for g in feed["games"]],
                                                      float(feed["fetched_at"]))
                except (KeyError, TypeError, ValueError, AttributeError):
                    log.warning("saved feed unreadable; fetched again", extra={"league": league, "feed": kind})
        self._recalled = True

    def _memory(self, league: str) -> dict[str, Any]:
        feeds = {kind: {"fetched_at": feed.fetched_at, "games": [game_memo(g) for g in feed.games]}
                 for (lg, kind), feed in self.feeds.items() if lg == league}
        return {"breaker": self.breakers[league].snapshot(), "bucket": self.buckets[league].snapshot(),
                "feeds": feeds}

    # one invocation

    def run(self, budget_s: float | None = None) -> list[Outcome]:
        """Poll what is due; while a followed game is live, poll again every live TTL within the budget
        (a cron fires each minute: 0, 15, 30, 45 s with the defaults), so live scores are 15 s fresh."""
        budget = self.settings.loop_s if budget_s is None else budget_s
        start = self.clock()
        outcomes = self.poll()
        step = max(self.settings.live_ttl_s, 1.0)
        due = step
        while budget > 0 and self.live() and due + self.settings.timeout_s <= budget:
            self.sleep(max(0.0, start + due - self.clock()))
            outcomes += self.poll()
            due += step
        return outcomes

    def live(self) -> bool:
        """A followed game is under way or due to start, by the latest default scoreboard."""
        now = dt.datetime.now(dt.UTC)
        return any(self._due(g, now) for league in self.settings.leagues for g in self._followed(league))

    @staticmethod
    def _due(game: Game, now: dt.datetime) -> bool:
        if game.status == "live":
            return True
        if game.status != "scheduled" or game.start_time is None:
            return False
        start = parse_timestamp(game.start_time)  # about to start, or late to start (weather, overrun)
        return start - dt.timedelta(minutes=2) <= now <= start + dt.timedelta(hours=3)

    def poll(self, now: dt.datetime | None = None) -> list[Outcome]:
        self.recall()
        outcomes = []
        for league in self.settings.leagues:
            outcome = self._poll_league(league, now or dt.datetime.now(dt.UTC))
            _polls.labels(league, outcome.result).inc()
            if outcome.result == "failed":
                _errors.labels(league).inc()
            breaker = self.breakers[league]
            at = format_timestamp(now or dt.datetime.now(dt.UTC))
            self.last_poll[league] = {"at": at, "result": outcome.result, "error": outcome.error}
            self.repo.record_feed(league, at, outcome.result, breaker.state, breaker.failures, outcome.error,
                                  self._memory(league))
            outcomes.append(outcome)
        return outcomes

    # one league

    def _poll_league(self, league: str, now: dt.datetime) -> Outcome:
        due = [kind for kind in self._kinds() if self._stale(league, kind, now)]
        if not due:
            return Outcome(league, "cached")
        breaker = self.breakers[league]
        if not breaker.allow():
            return Outcome(league, "breaker_open", breaker.last_error)
        if not self.buckets[league].take():
            return Outcome(league, "rate_limited")
        error = None
        fetched = 0
        for kind in due:
            asked = self.clock()  # freshness counts from the request, so the next tick of a live loop is due
            try:
                games = espn.parse(self._get(league, kind, now), league)
            except espn.FeedError as exc:
                breaker.failure(str(exc))
                log.warning("scoreboard fetch failed", extra={"league": league, "feed": kind, "error": str(exc)})
                error = str(exc)
                break
            breaker.success()
            self.feeds[(league, kind)] = Feed([g for g in games if self._follows(league, g)], asked)  # and saved
            fetched += 1
        if not fetched:
            return Outcome(league, "failed", error)
        followed = self._followed(league)  # what was read is used even if the next days' feed then failed
        events = self._apply(followed, format_timestamp(now))
        return Outcome(league, "failed" if error else "fetched", error, events, len(followed))

    def _kinds(self) -> list[str]:
        return ["today", "upcoming"] if self.settings.upcoming_days > 0 else ["today"]

    def _stale(self, league: str, kind: str, now: dt.datetime) -> bool:
        feed = self.feeds.get((league, kind))
        if feed is None:
            return True
        ttl = self.settings.upcoming_ttl_s
        if kind == "today" and any(self._due(g, now) for g in self._followed(league)):
            ttl = self.settings.live_ttl_s
        return self.clock() - feed.fetched_at >= ttl

    def _followed(self, league: str) -> list[Game]:
        """The followed teams' games: today's scoreboard, plus scheduled games of the next days it lacks."""
        today = self.feeds.get((league, "today"))  # a feed saved by a process with other teams holds theirs
        upcoming = self.feeds.get((league, "upcoming"))
        games = {g.game_id: g for g in (today.games if today else []) if self._follows(league, g)}
        for game in upcoming.games if upcoming else []:
            if game.game_id not in games and game.status == "scheduled" and self._follows(league, game):
                games[game.game_id] = game
        return list(games.values())

    def _follows(self, league: str, game: Game) -> bool:
        return any(game.involves(t) for t in self.settings.teams[league])

    def _get(self, league: str, kind: str, now: dt.datetime) -> Any:
        url = self.settings.base_url + espn.scoreboard_path(league)
        params = None
        if kind == "upcoming":
            end = now + dt.timedelta(days=self.settings.upcoming_days)
            params = {"dates": f"{now:%Y%m%d}-{end:%Y%m%d}", "limit": "300"}  # a week of NHL is ~100 games
        timeout = self.settings.timeout_s
        try:
            response = self.session.get(url, params=params, timeout=timeout)
        except requests.Timeout:
            raise espn.FeedError(f"no answer within {timeout:g} s") from None
        except requests.RequestException as exc:
            raise espn.FeedError(f"unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise espn.FeedError(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise espn.FeedError("answer is not JSON") from None

    # detection

    def _apply(self, games: list[Game], now: str) -> list[dict[str, Any]]:
        stored = self.repo.stored([g.game_id for g in games])
        plans = []
        events: list[dict[str, Any]] = []
        points: list[dict[str, Any]] = []
        for game in games:
            before = stored.get(game.game_id)
            change = detect.diff(before.game if before else None, game)
            if not change.record:
                continue
            plans.append((game, before, change.point))
            events += [detect.event(game, kind, before.game if before else None, now) for kind in change.events]
            if change.point and game.status in ("live", "final"):
                points += samples.records(game, now)
        if events:
            self.publish(subjects.SPORTS_EVENTS, batch_id("sports-", events), events)
            for e in events:
                _events.labels(e["league"], e["event_type"]).inc()
        if points:
            self.publish(subjects.CONTEXT_SAMPLES, batch_id("sports-scores-", points), points)
        for game, before, point in plans:
            if not self.repo.record(game, before, now, point):
                log.info("game changed by another poll; its events were published there",
                         extra={"game_id": game.game_id})
        return events

    def status(self) -> dict[str, Any]:
        self.recall()
        feeds = self.repo.feeds()
        return {league: {"teams": sorted(self.settings.teams[league]), "breaker": self.breakers[league].state,
                         "failures": self.breakers[league].failures, "last_error": self.breakers[league].last_error,
                         "last_poll": self.last_poll.get(league), "feed": feeds.get(league),
                         "cached_games": {kind: len(f.games) for (lg, kind), f in self.feeds.items() if lg == league}}
                for league in self.settings.leagues}
