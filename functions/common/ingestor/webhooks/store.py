"""The webhooks repository: registrations, their delivery state and the attempt log, in the metadata DB.

SQLAlchemy Core over SQLite (default) or PostgreSQL. The delivery queue itself (what is sent, retried,
held and dead-lettered) is ingestor.webhooks.queue, on the same database.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, not_, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite

from ingestor import jsoncodec, metrics, redaction
from ingestor.metadata.database import MetadataDatabase
from ingestor.metadata.schema import settings
from ingestor.timeutil import format_timestamp
from ingestor.webhooks.schema import webhook_attempts, webhook_deliveries, webhooks

CHUNK = 500
ID = re.compile(r"wh_[0-9a-f]{24}")
LAST_ID = "webhooks.last_id"  # the settings row holding the last id issued
PENDING, HELD, DELIVERED, DEAD, SKIPPED = "pending", "held", "delivered", "dead_lettered", "skipped"
WAITING = (PENDING, HELD)
OUTCOMES = ("delivered", "retrying", "held", "dead_lettered", "skipped")
"""What an entry of the delivery log says; delivered, dead_lettered and skipped are final. Logs written by
earlier versions may also hold `failed` and `skipped_paused`."""

_logged = metrics.counter("webhook_deliveries_total", "Delivery log entries by outcome (the log's own counts): "
                          "delivered, dead_lettered and skipped are final; retrying and held are not", ["outcome"])


def now_iso(offset_s: float = 0.0) -> str:
    return format_timestamp(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_s))


def new_id(now_ms: int, after: str | None) -> str:
    """`wh_` + 24 hex digits: the millisecond, then 48 random bits, but always above `after` (the last id
    issued). Ids thus increase in creation order even within one millisecond or when the clock steps back,
    and listing by id is listing by creation; ids made before this rule have the same form."""
    value = (now_ms << 48) | secrets.randbits(48)
    if after is not None and ID.fullmatch(after):
        value = max(value, int(after[3:], 16) + 1)
    return f"wh_{value:024x}"


@dataclass(frozen=True)
class Webhook:
    id: str
    name: str
    url: str
    secret: str
    filters: dict[str, list[str]]
    enabled: bool
    paused: bool
    paused_reason: str | None
    consecutive_failures: int
    created_at: str
    updated_at: str
    last_delivery_at: str | None
    last_status: int | None
    paused_at: str | None = None
    failing_since: str | None = None
    last_error: str | None = None

    @property
    def state(self) -> str:
        """disabled, paused (its events are held), failing (its last attempt failed) or active."""
        if not self.enabled:
            return "disabled"
        if self.paused:
            return "paused"
        return "failing" if self.consecutive_failures else "active"


@dataclass(frozen=True)
class Backlog:
    """What a webhook has not delivered yet: on its retry schedule, held, and since when."""

    pending: int = 0
    held: int = 0
    oldest_at: str | None = None  # when the oldest of them arrived
    unpublished_dead_letters: int = 0  # dead-lettered, not yet on ha.events.dlq (NATS unreachable)

    def age_s(self, now: dt.datetime) -> float | None:
        if self.oldest_at is None:
            return None
        return max((now - dt.datetime.fromisoformat(self.oldest_at.replace("Z", "+00:00"))).total_seconds(), 0.0)


def _webhook(row: Any) -> Webhook:
    redaction.register(row.secret)
    return Webhook(row.id, row.name, row.url, row.secret, jsoncodec.loads(row.filters), bool(row.enabled),
                   bool(row.paused), row.paused_reason, int(row.consecutive_failures or 0), row.created_at,
                   row.updated_at, row.last_delivery_at, row.last_status, row.paused_at, row.failing_since,
                   row.last_error)


def log_entry(d: Any, attempt: int, outcome: str, at: str, status_code: int | None = None,
              latency_ms: float | None = None, error: str | None = None) -> dict[str, Any]:
    """One row of the delivery log, for a delivery (or a row of one) `d`."""
    return {"webhook_id": d.webhook_id, "delivery_id": d.delivery_id, "event_id": d.event_id,
            "event_type": d.event_type, "attempt": attempt, "status_code": status_code, "latency_ms": latency_ms,
            "error": error[:500] if error else error, "outcome": outcome, "at": at}


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class WebhookStore(MetadataDatabase):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.dialect_insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert

    @contextmanager
    def logging(self) -> Iterator[tuple[Connection, list[dict[str, Any]]]]:
        """A transaction and a list of delivery-log entries written with it; once it commits, they are
        counted in webhook_deliveries_total, so the metric and the log agree entry for entry."""
        entries: list[dict[str, Any]] = []
        with self.transaction(write=True) as conn:
            yield conn, entries
            for chunk in chunks(entries):
                conn.execute(insert(webhook_attempts), list(chunk))
        for outcome, count in Counter(e["outcome"] for e in entries).items():
            _logged.labels(outcome).inc(count)

    def ping(self) -> float:
        started = time.perf_counter()
        with self.transaction() as conn:
            conn.execute(text("SELECT 1"))
        return (time.perf_counter() - started) * 1000

    # registrations

    def create(self, name: str, url: str, secret: str, filters: dict[str, list[str]], enabled: bool) -> Webhook:
        stamp = now_iso()
        row = {"name": name, "url": url, "secret": secret, "filters": jsoncodec.dumps(filters).decode(),
               "enabled": enabled, "paused": False, "consecutive_failures": 0, "created_at": stamp,
               "updated_at": stamp}
        with self.transaction(write=True) as conn:
            row["id"] = new_id(int(time.time() * 1000), self._last_id(conn, stamp))
            conn.execute(update(settings).where(settings.c.key == LAST_ID).values(value=jsoncodec.dumps(row["id"])
                                                                                   .decode()))
            conn.execute(insert(webhooks), [row])
            return _webhook(conn.execute(select(webhooks).where(webhooks.c.id == row["id"])).one())

    def _last_id(self, conn: Connection, stamp: str) -> str | None:
        """The last id issued, its settings row locked until commit: creations in every process take turns.

        The lock is the transaction's first statement, a write: SQLite then waits for the write lock
        (busy_timeout) instead of failing to upgrade a read, and PostgreSQL holds the row lock. The
        greatest stored id counts too, for databases from before the row existed."""
        conn.execute(self.dialect_insert(settings).values(key=LAST_ID, value="null", updated_at=stamp)
                     .on_conflict_do_update(index_elements=["key"], set_={"updated_at": stamp}))
        issued = jsoncodec.loads(conn.execute(select(settings.c.value).where(settings.c.key == LAST_ID)).scalar_one())
        stored = conn.execute(select(func.max(webhooks.c.id))).scalar()
        return max((i for i in (issued, stored) if isinstance(i, str) and ID.fullmatch(i)), default=None)

    def get(self, webhook_id: str) -> Webhook | None:
        with self.transaction() as conn:
            row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return None if row is None else _webhook(row)

    def page(self, limit: int, after: str | None) -> list[Webhook]:
        query = select(webhooks).order_by(webhooks.c.id).limit(limit)
        if after:
            query = query.where(webhooks.c.id > after)
        with self.transaction() as conn:
            return [_webhook(r) for r in conn.execute(query)]

    def all_enabled(self) -> list[Webhook]:
        with self.transaction() as conn:
            return [_webhook(r) for r in conn.execute(select(webhooks).where(webhooks.c.enabled == true()))]

    def update(self, webhook_id: str, values: dict[str, Any]) -> Webhook | None:
        values = dict(values)
        if "filters" in values:
            values["filters"] = jsoncodec.dumps(values["filters"]).decode()
        values["updated_at"] = now_iso()
        with self.transaction(write=True) as conn:
            conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))
            row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return None if row is None else _webhook(row)

    def delete(self, webhook_id: str) -> bool:
        with self.transaction(write=True) as conn:
            gone = conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id)).rowcount
            conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id))
            conn.execute(delete(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id))
        return bool(gone)

    def resume(self, webhook_id: str) -> Webhook | None:
        """Un-pause: the circuit closes and what was held is sent in order of arrival (by the sweeper)."""
        return self.update(webhook_id, {"paused": False, "paused_reason": None, "paused_at": None,
                                        "consecutive_failures": 0, "failing_since": None, "next_probe_at": None})

    def paused_count(self) -> int:
        with self.transaction() as conn:
            return int(conn.execute(select(func.count()).select_from(webhooks)
                                    .where(webhooks.c.paused == true())).scalar() or 0)

    def backlogs(self, ids: Sequence[str] | None = None) -> dict[str, Backlog]:
        """Per webhook (all, or `ids`): deliveries not yet delivered and when the oldest arrived."""
        d = webhook_deliveries
        waiting = select(d.c.webhook_id, d.c.state, func.count(), func.min(d.c.created_at)).where(
            or_(d.c.state.in_(WAITING), and_(d.c.state == DEAD, d.c.dlq_at.is_(None))))
        if ids is not None:
            waiting = waiting.where(d.c.webhook_id.in_(list(ids)))
        found: dict[str, dict[str, Any]] = {}
        with self.transaction() as conn:
            for webhook_id, state, count, oldest in conn.execute(waiting.group_by(d.c.webhook_id, d.c.state)):
                mine = found.setdefault(webhook_id, {"oldest": []})
                mine[state] = int(count)
                if state in WAITING:
                    mine["oldest"].append(oldest)
        return {wid: Backlog(v.get(PENDING, 0), v.get(HELD, 0), min(v["oldest"], default=None), v.get(DEAD, 0))
                for wid, v in found.items()}

    # the log

    def attempts(self, webhook_id: str, limit: int, before: int | None) -> list[dict[str, Any]]:
        query = select(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id)
        if before is not None:
            query = query.where(webhook_attempts.c.id < before)
        with self.transaction() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(webhook_attempts.c.id.desc()).limit(limit))]

    def deliveries_by_state(self, webhook_id: str) -> dict[str, int]:
        with self.transaction() as conn:
            rows = conn.execute(select(webhook_deliveries.c.state, func.count())
                                .where(webhook_deliveries.c.webhook_id == webhook_id)
                                .group_by(webhook_deliveries.c.state))
            return {state: int(count) for state, count in rows}

    def prune(self, keep: int, log_days: int, dedup_days: int) -> int:
        """Bound growth: the last `keep` attempts per webhook, none older than `log_days`; finished
        deliveries are kept `dedup_days` (longer than the stream keeps messages that could be redelivered)."""
        removed = 0
        with self.transaction(write=True) as conn:
            removed += conn.execute(delete(webhook_attempts).where(
                webhook_attempts.c.at < now_iso(-86400 * log_days))).rowcount
            removed += conn.execute(delete(webhook_deliveries).where(
                webhook_deliveries.c.state.not_in(WAITING),
                not_(and_(webhook_deliveries.c.state == DEAD, webhook_deliveries.c.dlq_at.is_(None))),
                webhook_deliveries.c.updated_at < now_iso(-86400 * dedup_days))).rowcount
            for (webhook_id,) in conn.execute(select(webhooks.c.id)):
                edge = conn.execute(select(webhook_attempts.c.id).where(webhook_attempts.c.webhook_id == webhook_id)
                                    .order_by(webhook_attempts.c.id.desc()).offset(keep).limit(1)).scalar()
                if edge is not None:
                    removed += conn.execute(delete(webhook_attempts).where(
                        webhook_attempts.c.webhook_id == webhook_id, webhook_attempts.c.id <= edge)).rowcount
        return removed

