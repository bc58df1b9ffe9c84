"""Webhook tables of the metadata DB (Migrations 2 and 4): webhooks, their deliveries and the attempt log.

A delivery is one event for one webhook; its id is derived from both, so a redelivered batch finds
the row it made before instead of sending again. The database is the queue: a delivery is `pending`
(on its retry schedule, `next_attempt_at`) or `held` (its webhook is paused, or catching up on what it
held: sent one at a time in order of arrival, `created_at` then `ordinal`), and ends `delivered`,
`dead_lettered` (published to ha.events.dlq, `dlq_at`) or `skipped` (its webhook was disabled).
Rows of older versions may end `failed` or `skipped_paused`. A sender claims a delivery with a lease
(`lease_owner`, `lease_until`); a crashed sender's lease runs out and the delivery is tried again.
Times are ISO 8601 UTC strings of fixed width, so string order is time order.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)

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
    # Migration 4: the circuit
    Column("failing_since", String(32)),  # the first failed attempt since the last success
    Column("last_error", Text),
    Column("next_probe_at", String(32)),  # while paused: when the oldest held delivery is tried again
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("delivery_id", String(64), primary_key=True),
    Column("webhook_id", String(40), nullable=False, index=True),
    Column("event_id", String(128), nullable=False),
    Column("event_type", String(128)),
    Column("payload", Text, nullable=False),  # the event, JSON: what retries send again ('' once finished)
    Column("state", String(16), nullable=False),  # pending | held | delivered | dead_lettered | skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", String(32)),
    Column("lease_owner", String(40)),
    Column("lease_until", String(32)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    # Migration 4
    Column("ordinal", Integer, nullable=False, default=0, server_default="0"),  # place in its batch
    Column("tries", Integer, nullable=False, default=0, server_default="0"),  # attempts of the current schedule
    Column("dlq_at", String(32)),  # dead_lettered: when the dead letter was published (null: not yet)
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
    Column("outcome", String(16), nullable=False),  # delivered | retrying | held | dead_lettered | skipped
    Column("at", String(32), nullable=False),
    Index("ix_webhook_attempts_log", "webhook_id", "id"),
    Index("ix_webhook_attempts_at", "at"),
)

_QUEUE = Index("ix_webhook_deliveries_queue", webhook_deliveries.c.webhook_id, webhook_deliveries.c.state,
               webhook_deliveries.c.created_at, webhook_deliveries.c.ordinal)
_ADDED = {webhooks: ("failing_since", "last_error", "next_probe_at"),
          webhook_deliveries: ("ordinal", "tries", "dlq_at")}


def create(conn: Connection) -> None:
    """Migration 2 of the metadata DB (the tables as defined now: Migration 4 then finds its columns there)."""
    metadata.create_all(conn, tables=[webhooks, webhook_deliveries, webhook_attempts])


def add_circuit(conn: Connection) -> None:
    """Migration 4: the columns of the circuit and of held deliveries, and the per-webhook queue index."""
    for table, names in _ADDED.items():
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for name in names:
            if name not in present:
                column = table.c[name]
                default = f" NOT NULL DEFAULT {column.server_default.arg}" if column.server_default is not None else ""
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {column.type.compile(conn.dialect)}"
                                  f"{default}"))
    _QUEUE.create(conn, checkfirst=True)
