"""The alerts table of the metadata DB (Migration 5).

One row per alert: opened when a rule first finds a problem with one subject (an entity or a component),
closed (`ended_at`) when the rule, evaluated again, no longer finds it. At most one open alert per
(rule, subject): a partial unique index, so two evaluators racing open it once. `start_sent`/`end_sent`
say whether its start/end was published for the webhooks; an unpublished one is published at the next tick.
Times are ISO 8601 UTC strings of fixed width, so string order is time order.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Connection, Index, MetaData, String, Table, Text

metadata = MetaData()

alerts = Table(
    "alerts", metadata,
    Column("id", String(40), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("severity", String(16), nullable=False),  # warning | critical
    Column("summary", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON: what the rule saw when it opened the alert
    Column("end_evidence", Text),  # JSON: what it saw when it closed it
    Column("started_at", String(32), nullable=False),
    Column("ended_at", String(32)),
    Column("start_sent", Boolean, nullable=False, default=False),
    Column("end_sent", Boolean, nullable=False, default=False),
    Index("ix_alerts_started", "started_at"),
    Index("ix_alerts_ended", "ended_at"),
)

_ONE_OPEN = Index("ux_alerts_open", alerts.c.rule, alerts.c.subject, unique=True,
                  sqlite_where=alerts.c.ended_at.is_(None), postgresql_where=alerts.c.ended_at.is_(None))


def create(conn: Connection) -> None:
    """Migration 5 of the metadata DB."""
    metadata.create_all(conn, tables=[alerts])
    _ONE_OPEN.create(conn, checkfirst=True)
