"""The SQL event store's tables and their migrations.

Steps 1-3 made the first layout (one wide `events` row per event, ten indexes: ~640 bytes an event).
Step 4 adds the tiered layout (docs/design.md, "Stores"): dictionaries (series, strings, docs), the hot tier
(`hot_events`, one row per event of the recent days), the cold tier (`blocks`, one row per series and UTC
day, compressed column by column), the trace index of the cold tier, and the rollups `write` keeps in the
same transaction as the events. Rows of the first layout are moved over by store/layout.py, batch by batch.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    inspect,
    literal_column,
    text,
)

from ingestor.record import MAX_NAME
from ingestor.store.migrate import Migration
from ingestor.store.rollups import DAYS_PER_COARSE

metadata = MetaData()

# The first layout's table (steps 1-3): read only by the move to the tiered layout, then dropped.
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


# --- step 4: the tiered layout -------------------------------------------------------------------------

tiered = MetaData()

# Every distinct combination of an event's descriptive strings; `key` is a hash of them (NULLs included).
series = Table(
    "series", tiered,
    Column("id", Integer, primary_key=True),
    Column("key", LargeBinary(16), nullable=False, unique=True),
    *(Column(name, String(MAX_NAME)) for name in ("event_type", "entity_id", "domain", "area_id", "device_id", "unit",
                                                  "device_class", "friendly_name", "origin", "device_manufacturer",
                                                  "device_model")),
    Column("flags", Integer, nullable=False, server_default="0"),  # FLAG_* below
)
FLAG_VALUE_EXCEPTIONS = 1  # some event of the series has a state_value other than coerce_state_value(state)

# Short strings the rollups key on: states, and the domain / event type / area / device of the dimension rollups.
strings = Table(
    "strings", tiered,
    Column("id", Integer, primary_key=True),
    Column("value", String(MAX_NAME), nullable=False, unique=True),
)

# JSON documents (attributes, data, enrichment templates), once per distinct content.
docs = Table(
    "docs", tiered,
    Column("id", Integer, primary_key=True),
    Column("hash", LargeBinary(16), nullable=False, unique=True),
    Column("body", LargeBinary, nullable=False),
)

hot_events = Table(
    "hot_events", tiered,
    Column("eid", LargeBinary(16), nullable=False),
    Column("series", Integer, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("state", String(MAX_NAME)),
    Column("old_state", String(MAX_NAME)),
    Column("value", Float),
    Column("duration", Float),
    Column("attrs", Integer, nullable=False),
    Column("ctx", String(64)),
    Column("parent", String(64)),
    Column("usr", String(64)),
    Column("enrich", Integer, nullable=False),
    Column("ages", Text),
    Column("data", Integer, nullable=False),
    Column("cat", SmallInteger, nullable=False),  # CAT_* below: which of state, old_state the state rollups keep
)  # no key on eid: `write` finds stored events by series and time (sqlwrite.stored_ids), as in the cold tier
CAT_STATE, CAT_OLD_STATE = 1, 2
# Leaves a state the state rollups keep (cat is CAT_OLD_STATE or both): a literal, so that a query with this
# very term may use the partial index below on SQLite (a bound parameter would not match its WHERE).
LEAVES_CATEGORICAL = hot_events.c.cat >= literal_column(str(CAT_OLD_STATE))
HOT_INDEXES = [
    Index("ix_hot_ts", hot_events.c.ts),
    Index("ix_hot_series_ts", hot_events.c.series, hot_events.c.ts),
    Index("ix_hot_ctx", hot_events.c.ctx),
    Index("ix_hot_parent", hot_events.c.parent),
]
# The stays of categorical states (a few % of the events): duration samples read them newest first without
# walking every hot event, from the index alone (it holds every column they read, cat too: SQLite reads the
# table for a partial index's own WHERE column otherwise), in (ts, eid) order, so no sort either. Index-only,
# a busy home's 40,000 newest hot stays are read in 0.08 s, not 0.13-0.44 s through the table and a sort.
HOT_STAYS = Index("ix_hot_stays_cover", *(hot_events.c[name] for name in
                                          ("ts", "eid", "series", "old_state", "duration", "cat")),
                  sqlite_where=LEAVES_CATEGORICAL, postgresql_where=LEAVES_CATEGORICAL)

blocks = Table(
    "blocks", tiered,
    Column("id", Integer, primary_key=True),
    Column("series", Integer, nullable=False),
    Column("day", Integer, nullable=False),  # days since the epoch (UTC)
    Column("first_ts", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("n", Integer, nullable=False),
    Column("times", LargeBinary, nullable=False),  # the time column alone, read without the rest
    Column("payload", LargeBinary, nullable=False),
)
BLOCK_INDEXES = [Index("ix_blocks_series_day", blocks.c.series, blocks.c.day),
                 Index("ix_blocks_day", blocks.c.day)]

# Cold events that a trace cannot find by the time in their context id: kind 0 = their context id, kind 1 =
# their parent id. `key` is the id's first 8 bytes as an integer (ULIDs) or a hash (other ids).
block_contexts = Table(
    "block_contexts", tiered,
    Column("kind", SmallInteger, nullable=False),
    Column("key", BigInteger, nullable=False),
    Column("series", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    PrimaryKeyConstraint("kind", "key", "series", "day", name="pk_block_contexts"),
    sqlite_with_rowid=False,
)

# The stays of the cold tier's (series, day), packed apart from its blocks (store/coldstays.py): written with the
# blocks, in their transaction, and read by the duration anomalies' sample instead of decoding blocks.
cold_stays = Table(
    "cold_stays", tiered,
    Column("series", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    Column("n", Integer, nullable=False),  # stays in it (zero: the day's blocks hold none)
    Column("stays", LargeBinary, nullable=False),
    PrimaryKeyConstraint("day", "series", name="pk_cold_stays"),
    sqlite_with_rowid=False,
)

# Per series and bucket (period 0: 5 minutes, 1: hour, 2: day, 3: 16 days, rollups.COARSE; bucket = start // width):
# events, and the count, sum, min and max of state_value; the newest event's time (µs after the bucket's start) and
# value. Which periods each rollup table keeps: rollups.TABLE_PERIODS.
# The rollup tables are clustered on their keys in SQLite (WITHOUT ROWID): a second copy of every key
# in an index would cost a third of their size.
rollups = Table(
    "rollups", tiered,
    Column("series", Integer, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("vn", Integer, nullable=False),
    Column("vsum", Float),
    Column("vmin", Float),
    Column("vmax", Float),
    Column("last_ts", BigInteger, nullable=False),
    Column("last_value", Float),
    Column("rise", Float),  # a meter's: the sum of its readings' rises (store/rise.py); NULL for other series and
    # in 16-day rows (energy reads hours)
    PrimaryKeyConstraint("series", "period", "bucket", name="pk_rollups"),
    sqlite_with_rowid=False,
)

# The same per dimension (0: every event, key 0; 1: domain, 2: event type, 3: area, 4: device; key = strings.id,
# 0 for none), so a filter on one dimension reads one row per bucket whatever the number of series. Devices
# are many and have few series each: they have no 5-minute rows (their series' rows answer).
dim_rollups = Table(
    "dim_rollups", tiered,
    Column("dim", SmallInteger, nullable=False),
    Column("key", Integer, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("vn", Integer, nullable=False),
    Column("vsum", Float),
    Column("vmin", Float),
    Column("vmax", Float),
    Column("last_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("dim", "key", "period", "bucket", name="pk_dim_rollups"),
    sqlite_with_rowid=False,
)

# Per series, hour, day or 16-day bucket and state (strings.id; 0 stands for every plain-decimal state together):
# events entering the state, events leaving it, the durations of the stays they ended (count, sum, min, max, in the
# bucket of the event that ended the stay), and the seconds of those stays that fall in the bucket.
state_rollups = Table(
    "state_rollups", tiered,
    Column("series", Integer, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("left", Integer, nullable=False),
    Column("dn", Integer, nullable=False),
    Column("dsum", Float),
    Column("dmin", Float),
    Column("dmax", Float),
    Column("secs", Float, nullable=False),
    PrimaryKeyConstraint("series", "period", "bucket", "state", name="pk_state_rollups"),
    sqlite_with_rowid=False,
)

# Progress of the move from the first layout and of compaction, and who is doing it.
store_state = Table(
    "store_state", tiered,
    Column("name", String(64), primary_key=True),
    Column("value", Text),
    Column("owner", String(64)),
    Column("beat", BigInteger),  # last sign of life of the owner, microseconds since the epoch
)


def _v4_tiered(conn: Connection) -> None:
    tiered.create_all(conn)


def _v5_hot_stays(conn: Connection) -> None:
    HOT_STAYS.create(conn, checkfirst=True)  # new databases have it from step 4: it is bound to hot_events


def _v6_covering_stays(conn: Connection) -> None:
    """Step 5's index held the time alone: each stay read its row from the table, and their order by event id
    was a sort. Its replacement is HOT_STAYS (step 5 makes it on databases that reach step 5 only now)."""
    conn.execute(text("DROP INDEX IF EXISTS ix_hot_stays"))
    HOT_STAYS.create(conn, checkfirst=True)


def _v7_uncut_blocks(conn: Connection) -> None:
    """What compaction.plan_recut looks for (a block of more than 128 events spanning two hours or more: cut
    before blocks were cut by hour), answered from an index of the blocks of more than 128 events (an hour of
    a busy series each) rather than a read of every block's row at each start."""
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_blocks_uncut ON blocks (n, first_ts, last_ts, series, day) "
                      "WHERE n > 128"))


def _v8_rises(conn: Connection) -> None:
    from ingestor.store.sqlrise import start_fill  # it reads through sqlread, which imports this module

    start_fill(conn)


def _v10_hot_events_without_id_key(conn: Connection) -> None:
    """The hot tier's primary key on event ids goes (see sqlwrite.stored_ids). SQLite cannot drop a table's
    primary key: the table is made again under its name, rows in their order, and its indexes with it."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE hot_events DROP CONSTRAINT IF EXISTS pk_hot_events"))
        return
    if not inspect(conn).get_pk_constraint("hot_events")["constrained_columns"]:
        return  # made without it (step 4 of this version)
    for index in [*HOT_INDEXES, HOT_STAYS]:
        conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
    conn.execute(text("ALTER TABLE hot_events RENAME TO hot_events_v9"))
    hot_events.create(conn)  # with HOT_INDEXES and HOT_STAYS, bound to it
    names = ", ".join(f'"{c.name}"' for c in hot_events.columns)
    conn.execute(text(f"INSERT INTO hot_events ({names}) SELECT {names} FROM hot_events_v9 ORDER BY rowid"))
    conn.execute(text("DROP TABLE hot_events_v9"))


def _v11_cold_stays(conn: Connection) -> None:
    """The table alone (new databases have it from step 4): rows are written by compaction from now on, and
    for the days compacted before by `python -m ingestor.store stays` (coldstays.fill); until then a day
    without its row is read from its blocks."""
    cold_stays.create(conn, checkfirst=True)


EVERY_COARSE = (2 ** 31 - 1) // DAYS_PER_COARSE  # past the last 16-day bucket whose days fit an INTEGER


def _v12_coarse_state_rollups(conn: Connection) -> None:
    """The state rollups' 16-day buckets (rollups.COARSE) made from the daily rows written before them, which `write`
    keeps from now on (any it wrote already are made again): in the step's transaction, so an interrupted step leaves
    none and runs again (0.3-0.5 s for a year's 170,855 daily rows). Every bucket from the epoch on."""
    from ingestor.store.sqlwrite import coarse_again  # it reads through sqlread, which imports this module

    coarse_again(conn, 0, EVERY_COARSE, ("state_rollups",))


def _v13_coarse_event_rollups(conn: Connection) -> None:
    """The series and dimension rollups' 16-day buckets made from their daily rows, as step 12 made the state
    rollups' (`write` keeps them from now on; any it wrote already are made again): in the step's transaction, so an
    interrupted step leaves none and runs again."""
    from ingestor.store.sqlwrite import coarse_again  # it reads through sqlread, which imports this module

    coarse_again(conn, 0, EVERY_COARSE, ("rollups", "dim_rollups"))


MIGRATIONS = [Migration(1, "events table and its indexes", _v1_initial),
              Migration(2, "aggregates table (hourly and daily summaries per entity)", _v2_aggregates),
              Migration(3, "covering index for trend charts", _v3_trend_index),
              Migration(4, "tiered layout: dictionaries, hot and cold tiers, trace index, rollups", _v4_tiered),
              Migration(5, "partial index of the hot tier's categorical stays", _v5_hot_stays),
              Migration(6, "the stays' partial index covers what their reads need", _v6_covering_stays),
              Migration(7, "partial index of blocks not cut by hour", _v7_uncut_blocks),
              Migration(8, "meters' rises in the rollups, filled in from the stored readings", _v8_rises),
              Migration(10, "no primary key on the hot tier's event ids", _v10_hot_events_without_id_key),
              Migration(11, "the cold tier's stays packed apart, a row per series and day", _v11_cold_stays),
              Migration(12, "the state rollups' 16-day buckets, from their days' rows", _v12_coarse_state_rollups),
              Migration(13, "the series and dimension rollups' 16-day buckets, from their days' rows",
                        _v13_coarse_event_rollups)]
