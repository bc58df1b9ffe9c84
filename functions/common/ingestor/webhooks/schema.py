"""Webhook tables of the metadata DB (Migration 2): webhooks, their deliveries and the attempt log.

A delivery is one event for one webhook; its id is derived from both, so a redelivered batch finds
the row it made before instead of sending again. Pending deliveries carry `next_attempt_at`: the
database is the retry queue, so retries survive restarts. A sender claims a delivery with a lease
(`lease_owner`, `lease_until`); a crashed sender's lease runs out and the delivery is retried.
Times are ISO 8601 UTC strings of fixed width, so string order is time order.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Connection, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

webhooks = Table(
    "webhooks", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),  # needed to sign; never returned after creation
    Column("filters", Text, nullable=False),  # JSON
    Column("enabled", Boolean, nullable=False, default=True),
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_reason", Text),
    Column("paused_at", String(32)),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("last_delivery_at", String(32)),
    Column("last_status", Integer),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("delivery_id", String(64), primary_key=True),
    Column("webhook_id", String(40), nullable=False, index=True),
    Column("event_id", String(128), nullable=False),
    Column("event_type", String(128)),
    Column("payload", Text, nullable=False),  # the event, JSON: what retries send again
    Column("state", String(16), nullable=False),  # pending | delivered | failed | skipped_paused
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", String(32)),
    Column("lease_owner", String(40)),
    Column("lease_until", String(32)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("webhook_id", String(40), nullable=False),
    Column("delivery_id", String(64), nullable=False),
    Column("event_id", String(128)),
    Column("event_type", String(128)),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Float),
    Column("error", Text),
    Column("outcome", String(16), nullable=False),  # delivered | retrying | failed | skipped_paused
    Column("at", String(32), nullable=False),
    Index("ix_webhook_attempts_log", "webhook_id", "id"),
    Index("ix_webhook_attempts_at", "at"),
)


def create(conn: Connection) -> None:
    """Migration 2 of the metadata DB."""
    metadata.create_all(conn, tables=[webhooks, webhook_deliveries, webhook_attempts])
