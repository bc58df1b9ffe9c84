"""Fetching each due source once, guarded by its timeout, rate limit and circuit breaker.

A value younger than its source's refresh interval is a cache hit: no request is made. A provider
that fails, hangs or answers garbage costs at most one timeout per poll and, after `threshold`
failures, nothing at all until its breaker lets one trial call through. The breakers and rate buckets
are saved with each source's status in the shared cache and taken up by the next process, since
context-poll is stopped between its cron ticks.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from ingestor import metrics
from ingestor.context import cache, samples
from ingestor.context.model import Location, Source, SourceError
from ingestor.context.resilience import CircuitBreaker, TokenBucket
from ingestor.context.settings import Settings
from ingestor.timeutil import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)
_polls = metrics.counter("context_polls_total", "Context source polls, by outcome", ["source", "outcome"])


@dataclass
class Outcome:
    source: str
    result: str  # fetched | cached | failed | breaker_open | rate_limited | no_location
    error: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)


class Poller:
    """`publish` receives a fetched value's series records before the value is cached, so a publish
    that fails leaves the value uncached and the next poll fetches and publishes it again."""

    def __init__(self, settings: Settings, publish: Callable[[list[dict[str, Any]]], None]) -> None:
        self.settings = settings
        self.publish = publish
        self.session = requests.Session()
        self.breakers = {name: CircuitBreaker(settings.breaker_threshold, settings.breaker_reset_s)
                         for name in settings.sources}
        self.buckets = {name: TokenBucket(settings.rate_per_min[name]) for name in settings.sources}
        self._recalled = False

    def recall(self, known: dict[str, dict[str, Any]]) -> None:
        """Take up the guards an earlier process saved (once: from then on this process holds them)."""
        if self._recalled:
            return
        self._recalled = True
        for name in self.settings.sources:
            saved = (known.get(f"status.{name}") or {}).get("guards") or {}
            self.breakers[name].restore(saved.get("breaker") or {})
            self.buckets[name].restore(saved.get("bucket") or {})

    def poll(self, location: Location | None, now: dt.datetime | None = None) -> list[Outcome]:
        now = now or dt.datetime.now(dt.UTC)
        known = cache.read_all()
        self.recall(known)
        outcomes = [self._poll_one(name, source, location, known.get(name), now)
                    for name, source in self.settings.sources.items()]
        for outcome in outcomes:
            _polls.labels(outcome.source, outcome.result).inc()
            breaker = self.breakers[outcome.source]
            cache.put(f"status.{outcome.source}", {"result": outcome.result, "error": outcome.error,
                                                   "breaker": breaker.state, "failures": breaker.failures,
                                                   "at": format_timestamp(now),
                                                   "guards": {"breaker": breaker.snapshot(),
                                                              "bucket": self.buckets[outcome.source].snapshot()}})
        return outcomes

    def _poll_one(self, name: str, source: Source, location: Location | None, cached: dict[str, Any] | None,
                  now: dt.datetime) -> Outcome:
        if cached and (now - parse_timestamp(cached["fetched_at"])).total_seconds() < source.refresh_s:
            return Outcome(name, "cached")
        if location is None:
            return Outcome(name, "no_location", "set CONTEXT_LATITUDE/CONTEXT_LONGITUDE or connect Home Assistant")
        breaker = self.breakers[name]
        if not breaker.allow():
            return Outcome(name, "breaker_open", breaker.last_error)
        if not self.buckets[name].take():
            return Outcome(name, "rate_limited")
        try:
            values = source.parse(self._get(source, location, self.settings.timeout_s[name]))
        except SourceError as exc:
            breaker.failure(str(exc))
            log.warning("context source failed", extra={"source": name, "provider": source.provider, "error": str(exc)})
            return Outcome(name, "failed", str(exc))
        breaker.success()
        fetched_at = format_timestamp(now)
        records = samples.records(source, values, fetched_at)
        self.publish(records)
        cache.put(name, {"values": values, "fetched_at": fetched_at, "provider": source.provider,
                         "ttl_s": source.refresh_s})
        return Outcome(name, "fetched", records=records)

    def _get(self, source: Source, location: Location, timeout: float) -> Any:
        request = source.request(location)
        try:
            response = self.session.get(request.url, params=request.params, headers=request.headers, timeout=timeout)
        except requests.Timeout:
            raise SourceError(f"no answer within {timeout:g} s") from None
        except requests.RequestException as exc:  # the message may hold the URL and its API key: not used
            raise SourceError(f"unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise SourceError(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SourceError("answer is not JSON") from None
