"""The webhooks repository: registrations, the delivery queue and the attempt log, in the metadata DB.

SQLAlchemy Core over SQLite (default) or PostgreSQL. Every statement that a concurrent sender could
race on is a compare-and-set (claims hold a lease; results are written only while it is still held).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, false, func, insert, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from ingestor import jsoncodec, redaction
from ingestor.metadata.schema import MIGRATIONS, settings
from ingestor.store.migrate import upgrade
from ingestor.store.model import StoreError, StoreUnavailable
from ingestor.store.sqlengine import engine_for
from ingestor.timeutil import format_timestamp
from ingestor.webhooks.schema import webhook_attempts, webhook_deliveries, webhooks

CHUNK = 500
ID = re.compile(r"wh_[0-9a-f]{24}")
LAST_ID = "webhooks.last_id"  # the settings row holding the last id issued
PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped_paused"


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


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery: everything a sender needs."""

    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str | None
    payload: bytes
    attempts: int  # made before this one
    lease_owner: str


@dataclass(frozen=True)
class Result:
    """One attempt's result: `outcome` delivered, retrying (the delivery stays pending) or failed."""

    delivery: Delivery
    outcome: str  # delivered | retrying | failed
    status_code: int | None
    latency_ms: float | None
    error: str | None
    next_attempt_at: str | None
    at: str


def _webhook(row: Any) -> Webhook:
    redaction.register(row.secret)
    return Webhook(row.id, row.name, row.url, row.secret, jsoncodec.loads(row.filters), bool(row.enabled),
                   bool(row.paused), row.paused_reason, int(row.consecutive_failures or 0), row.created_at,
                   row.updated_at, row.last_delivery_at, row.last_status)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class WebhookStore:
    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)
        self._insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
        self._ready = False

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A transaction; a database that cannot be reached is StoreUnavailable (503, retry later)."""
        try:
            if not self._ready:
                with self.engine.connect():  # fail fast when unreachable (upgrade retries for seconds)
                    pass
                upgrade(self.engine, MIGRATIONS)
                self._ready = True
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreUnavailable(f"metadata DB unavailable: {type(exc.orig).__name__}") from exc
        except DBAPIError as exc:
            raise StoreError(f"metadata DB refused the operation: {type(exc.orig).__name__}") from exc

    def ping(self) -> float:
        started = time.perf_counter()
        with self._tx() as conn:
            conn.execute(text("SELECT 1"))
        return (time.perf_counter() - started) * 1000

    # registrations

    def create(self, name: str, url: str, secret: str, filters: dict[str, list[str]], enabled: bool) -> Webhook:
        stamp = now_iso()
        row = {"name": name, "url": url, "secret": secret, "filters": jsoncodec.dumps(filters).decode(),
               "enabled": enabled, "paused": False, "consecutive_failures": 0, "created_at": stamp,
               "updated_at": stamp}
        with self._tx() as conn:
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
        conn.execute(self._insert(settings).values(key=LAST_ID, value="null", updated_at=stamp)
                     .on_conflict_do_update(index_elements=["key"], set_={"updated_at": stamp}))
        issued = jsoncodec.loads(conn.execute(select(settings.c.value).where(settings.c.key == LAST_ID)).scalar_one())
        stored = conn.execute(select(func.max(webhooks.c.id))).scalar()
        return max((i for i in (issued, stored) if isinstance(i, str) and ID.fullmatch(i)), default=None)

    def get(self, webhook_id: str) -> Webhook | None:
        with self._tx() as conn:
            row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return None if row is None else _webhook(row)

    def page(self, limit: int, after: str | None) -> list[Webhook]:
        query = select(webhooks).order_by(webhooks.c.id).limit(limit)
        if after:
            query = query.where(webhooks.c.id > after)
        with self._tx() as conn:
            return [_webhook(r) for r in conn.execute(query)]

    def all_enabled(self) -> list[Webhook]:
        with self._tx() as conn:
            return [_webhook(r) for r in conn.execute(select(webhooks).where(webhooks.c.enabled == true()))]

    def update(self, webhook_id: str, values: dict[str, Any]) -> Webhook | None:
        values = dict(values)
        if "filters" in values:
            values["filters"] = jsoncodec.dumps(values["filters"]).decode()
        values["updated_at"] = now_iso()
        with self._tx() as conn:
            conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))
            row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return None if row is None else _webhook(row)

    def delete(self, webhook_id: str) -> bool:
        with self._tx() as conn:
            gone = conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id)).rowcount
            conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id))
            conn.execute(delete(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id))
        return bool(gone)

    def resume(self, webhook_id: str) -> Webhook | None:
        return self.update(webhook_id, {"paused": False, "paused_reason": None, "paused_at": None,
                                        "consecutive_failures": 0})

    def paused_count(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(webhooks)
                                    .where(webhooks.c.paused == true())).scalar() or 0)

    # the delivery queue

    def record(self, rows: list[dict[str, Any]], lease_s: float) -> tuple[list[Delivery], list[dict[str, Any]]]:
        """Insert new deliveries (a row already there, from a redelivered batch, is left alone).

        Rows come with `state` pending or skipped_paused. Returns the pending ones this call inserted,
        claimed for the caller, and the skipped ones it inserted (logged here, in the same transaction).
        """
        if not rows:
            return [], []
        owner = uuid.uuid4().hex
        stamp = now_iso()
        full = [{**r, "attempts": 0, "lease_owner": owner, "next_attempt_at": stamp, "created_at": stamp,
                 "updated_at": stamp, "lease_until": now_iso(lease_s) if r["state"] == PENDING else None}
                for r in rows]
        claimed: list[Delivery] = []
        skipped: list[dict[str, Any]] = []
        with self._tx() as conn:
            for chunk in _chunks(full):
                conn.execute(self._insert(webhook_deliveries).on_conflict_do_nothing(index_elements=["delivery_id"]),
                             list(chunk))
                ids = [r["delivery_id"] for r in chunk]
                mine = conn.execute(select(webhook_deliveries).where(
                    webhook_deliveries.c.delivery_id.in_(ids), webhook_deliveries.c.lease_owner == owner,
                    webhook_deliveries.c.created_at == stamp))
                for row in mine:
                    if row.state == PENDING:
                        claimed.append(_delivery(row))
                    else:
                        skipped.append({"webhook_id": row.webhook_id, "delivery_id": row.delivery_id,
                                        "event_id": row.event_id, "event_type": row.event_type, "attempt": 0,
                                        "outcome": SKIPPED, "error": "webhook paused", "at": stamp})
            if skipped:
                conn.execute(insert(webhook_attempts), skipped)
        return claimed, skipped

    def claim_due(self, limit: int, lease_s: float) -> list[Delivery]:
        """Pending deliveries whose time has come, of webhooks neither paused nor disabled, leased to us."""
        owner = uuid.uuid4().hex
        stamp = now_iso()
        due = and_(webhook_deliveries.c.state == PENDING, webhook_deliveries.c.next_attempt_at <= stamp,
                   or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until < stamp))
        with self._tx() as conn:
            ids = [r.delivery_id for r in conn.execute(
                select(webhook_deliveries.c.delivery_id)
                .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                .where(due, webhooks.c.paused == false(), webhooks.c.enabled == true())
                .order_by(webhook_deliveries.c.next_attempt_at).limit(limit))]
            if not ids:
                return []
            conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.delivery_id.in_(ids), due)
                         .values(lease_owner=owner, lease_until=now_iso(lease_s)))
            return [_delivery(r) for r in conn.execute(select(webhook_deliveries).where(
                webhook_deliveries.c.delivery_id.in_(ids), webhook_deliveries.c.lease_owner == owner))]

    def release(self, deliveries: list[Delivery]) -> None:
        """Give back deliveries not attempted (the invocation's time ran out): the sweeper sends them."""
        if not deliveries:
            return
        with self._tx() as conn:
            conn.execute(update(webhook_deliveries).where(
                webhook_deliveries.c.delivery_id == bindparam("k_id"),
                webhook_deliveries.c.lease_owner == bindparam("k_owner")).values(lease_owner=None, lease_until=None),
                [{"k_id": d.delivery_id, "k_owner": d.lease_owner} for d in deliveries])

    def finish(self, results: list[Result], pause_after: int) -> list[str]:
        """Write attempts and their consequences in one transaction; returns the webhooks paused now."""
        if not results:
            return []
        paused: list[str] = []
        pending: list[dict[str, Any]] = []
        done: list[dict[str, Any]] = []
        for r in results:
            state = {"delivered": DELIVERED, "failed": FAILED}.get(r.outcome, PENDING)
            (pending if state == PENDING else done).append({
                "k_id": r.delivery.delivery_id, "k_owner": r.delivery.lease_owner, "v_state": state,
                "v_attempts": r.delivery.attempts + 1, "v_next": r.next_attempt_at, "v_status": r.status_code,
                "v_error": r.error, "v_at": r.at})
        with self._tx() as conn:
            for rows, finished in ((pending, False), (done, True)):
                if rows:  # one statement, many parameter sets
                    conn.execute(_RESULT_FINISHED if finished else _RESULT_PENDING, rows)
            conn.execute(insert(webhook_attempts), [{
                "webhook_id": r.delivery.webhook_id, "delivery_id": r.delivery.delivery_id,
                "event_id": r.delivery.event_id, "event_type": r.delivery.event_type,
                "attempt": r.delivery.attempts + 1, "status_code": r.status_code, "latency_ms": r.latency_ms,
                "error": r.error, "outcome": r.outcome, "at": r.at} for r in results])
            by_webhook: dict[str, list[Result]] = {}
            for r in results:
                by_webhook.setdefault(r.delivery.webhook_id, []).append(r)
            for webhook_id, mine in by_webhook.items():
                if self._count(conn, webhook_id, mine, pause_after):
                    paused.append(webhook_id)
        return paused

    def _count(self, conn: Connection, webhook_id: str, results: list[Result], pause_after: int) -> bool:
        """Update the consecutive-failure count and pause at the threshold; True when paused now."""
        ok = [i for i, r in enumerate(results) if r.outcome == "delivered"]
        last = results[-1]
        values: dict[str, Any] = {"last_delivery_at": last.at, "last_status": last.status_code}
        if ok:
            values["consecutive_failures"] = len(results) - 1 - ok[-1]
        else:
            values["consecutive_failures"] = webhooks.c.consecutive_failures + len(results)
        conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))
        reason = (f"paused after {pause_after} consecutive failed attempts; last: "
                  f"{last.error or f'HTTP {last.status_code}'}")[:500]
        stamp = now_iso()
        paused = conn.execute(update(webhooks).where(
            webhooks.c.id == webhook_id, webhooks.c.paused == false(),
            webhooks.c.consecutive_failures >= pause_after).values(
            paused=True, paused_reason=reason, paused_at=stamp)).rowcount
        if paused:
            conn.execute(update(webhook_deliveries).where(
                webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.state == PENDING).values(
                state=SKIPPED, payload="", last_error="webhook paused", updated_at=stamp, lease_owner=None,
                lease_until=None))
        return bool(paused)

    # the log

    def attempts(self, webhook_id: str, limit: int, before: int | None) -> list[dict[str, Any]]:
        query = select(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id)
        if before is not None:
            query = query.where(webhook_attempts.c.id < before)
        with self._tx() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(webhook_attempts.c.id.desc()).limit(limit))]

    def deliveries_by_state(self, webhook_id: str) -> dict[str, int]:
        with self._tx() as conn:
            rows = conn.execute(select(webhook_deliveries.c.state, func.count())
                                .where(webhook_deliveries.c.webhook_id == webhook_id)
                                .group_by(webhook_deliveries.c.state))
            return {state: int(count) for state, count in rows}

    def prune(self, keep: int, log_days: int, dedup_days: int) -> int:
        """Bound growth: the last `keep` attempts per webhook, none older than `log_days`; finished
        deliveries are kept `dedup_days` (longer than the stream keeps messages that could be redelivered)."""
        removed = 0
        with self._tx() as conn:
            removed += conn.execute(delete(webhook_attempts).where(
                webhook_attempts.c.at < now_iso(-86400 * log_days))).rowcount
            removed += conn.execute(delete(webhook_deliveries).where(
                webhook_deliveries.c.state != PENDING,
                webhook_deliveries.c.updated_at < now_iso(-86400 * dedup_days))).rowcount
            for (webhook_id,) in conn.execute(select(webhooks.c.id)):
                edge = conn.execute(select(webhook_attempts.c.id).where(webhook_attempts.c.webhook_id == webhook_id)
                                    .order_by(webhook_attempts.c.id.desc()).offset(keep).limit(1)).scalar()
                if edge is not None:
                    removed += conn.execute(delete(webhook_attempts).where(
                        webhook_attempts.c.webhook_id == webhook_id, webhook_attempts.c.id <= edge)).rowcount
        return removed


def _result_update(finished: bool) -> Any:
    values: dict[str, Any] = {"state": bindparam("v_state"), "attempts": bindparam("v_attempts"),
                              "next_attempt_at": bindparam("v_next"), "lease_owner": None, "lease_until": None,
                              "last_status": bindparam("v_status"), "last_error": bindparam("v_error"),
                              "updated_at": bindparam("v_at")}
    if finished:
        values["payload"] = ""  # sent for good: the event need not be kept
    return update(webhook_deliveries).where(webhook_deliveries.c.delivery_id == bindparam("k_id"),
                                            webhook_deliveries.c.lease_owner == bindparam("k_owner")).values(**values)


_RESULT_PENDING = _result_update(False)
_RESULT_FINISHED = _result_update(True)


def _delivery(row: Any) -> Delivery:
    return Delivery(row.delivery_id, row.webhook_id, row.event_id, row.event_type, row.payload.encode(),
                    int(row.attempts or 0), row.lease_owner)
