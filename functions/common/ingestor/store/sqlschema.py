"""The SQL event store's table, indexes designed for the dashboard's queries, and its migrations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from ingestor.store.migrate import Migration

metadata = MetaData()

events = Table(
    "events", metadata,
    Column("event_id", String(32), primary_key=True),
    Column("ts", BigInteger, nullable=False),  # time_fired, microseconds since the epoch (UTC)
    Column("event_type", String(64), nullable=False),
    Column("origin", String(16)),
    Column("entity_id", String(255)),
    Column("domain", String(64)),
    Column("state", Text),
    Column("old_state", Text),
    Column("state_value", Float),
    Column("unit", String(64)),
    Column("device_class", String(64)),
    Column("friendly_name", Text),
    Column("attributes", Text),  # JSON
    Column("duration_in_state", Float),
    Column("context_id", String(64)),
    Column("context_parent_id", String(64)),
    Column("context_user_id", String(64)),
    Column("device_id", String(64)),
    Column("area_id", String(64)),
    Column("device_manufacturer", Text),
    Column("device_model", Text),
    Column("weather", Text),  # JSON
    Column("data", Text),  # JSON
    Column("extra", Text),  # JSON: the context sources beside weather (ingestor.record.OPTIONAL_FIELDS)
)

# Time-ordered scans per filter (recent events, entity history, charts), and the trace lookups.
INDEXES = [
    Index("ix_events_ts", events.c.ts),
    Index("ix_events_entity_ts", events.c.entity_id, events.c.ts),
    Index("ix_events_domain_ts", events.c.domain, events.c.ts),
    Index("ix_events_type_ts", events.c.event_type, events.c.ts),
    Index("ix_events_area_ts", events.c.area_id, events.c.ts),
    Index("ix_events_device_ts", events.c.device_id, events.c.ts),
    Index("ix_events_context", events.c.context_id),
    Index("ix_events_parent", events.c.context_parent_id),
]


def _v1_initial(conn: Connection) -> None:
    events.create(conn)  # with INDEXES, which are bound to the table


# Hourly and daily summaries per entity, written by retention-archive before raw rows are pruned.
aggregates = Table(
    "aggregates", metadata,
    Column("entity_id", String(255), nullable=False),  # "" for events without an entity
    Column("period", String(8), nullable=False),  # 'hour' | 'day'
    Column("start_ts", BigInteger, nullable=False),  # period start, microseconds since the epoch (UTC)
    Column("count", BigInteger, nullable=False),
    Column("value_count", BigInteger, nullable=False),
    Column("mean", Float),
    Column("min", Float),
    Column("max", Float),
    PrimaryKeyConstraint("entity_id", "period", "start_ts", name="pk_aggregates"),
)
AGGREGATE_INDEXES = [Index("ix_aggregates_period_ts", aggregates.c.period, aggregates.c.start_ts)]


def _v2_aggregates(conn: Connection) -> None:
    aggregates.create(conn)


def _v3_trend_index(conn: Connection) -> None:
    """Event-rate and trend charts over days (count and state_value per bucket, any entity) read only
    this index instead of one table row per event. Plain DDL: an Index object would be bound to the
    table, and step 1 would then create it on new databases."""
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_events_ts_value ON events (ts, state_value)"))


MIGRATIONS = [Migration(1, "events table and its indexes", _v1_initial),
              Migration(2, "aggregates table (hourly and daily summaries per entity)", _v2_aggregates),
              Migration(3, "covering index for trend charts", _v3_trend_index)]
