"""Versioned migrations: a new database gets the latest schema; an old one is upgraded keeping its rows."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from ingestor.store.migrate import Migration, upgrade
from ingestor.store.sqlengine import engine_for
from ingestor.store.sqlschema import MIGRATIONS


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/m.db"
    return request.getfixturevalue("postgres").new_database()


def _create(conn: Connection) -> None:
    conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))


def _add_column(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE notes ADD COLUMN author TEXT"))


V1 = [Migration(1, "notes", _create)]
V2 = [*V1, Migration(2, "notes get an author", _add_column)]


def version(url: str) -> int:
    with engine_for(url).connect() as conn:
        return int(conn.execute(text("SELECT max(version) FROM schema_version")).scalar())


def test_a_new_database_gets_every_migration_of_the_event_store(url: str) -> None:
    assert upgrade(engine_for(url), MIGRATIONS) == MIGRATIONS[-1].version
    assert version(url) == MIGRATIONS[-1].version


def test_upgrading_twice_changes_nothing(url: str) -> None:
    engine = engine_for(url)
    upgrade(engine, V2)
    assert upgrade(engine, V2) == 2
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM schema_version")).scalar() == 2


def test_an_old_database_is_upgraded_and_keeps_its_rows(url: str) -> None:
    engine = engine_for(url)
    upgrade(engine, V1)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO notes (id, body) VALUES (1, 'kept')"))
    upgrade(engine, V2)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, body, author FROM notes")).all() == [(1, "kept", None)]
    assert version(url) == 2


def test_processes_starting_together_apply_each_step_once(url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(engine_for(url), V2)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert version(url) == 2


def test_migrations_out_of_order_are_refused(url: str) -> Any:
    with pytest.raises(ValueError, match="increasing"):
        upgrade(engine_for(url), [V2[1], V2[0]])


STAYS_READ = ("SELECT series, ts, eid, old_state, duration FROM hot_events WHERE ts >= 0 AND ts < 10 "
              "AND duration >= 0 AND cat >= 2 ORDER BY ts DESC, eid DESC")


def test_a_tiered_database_made_before_the_stays_index_gets_it_and_stay_reads_use_it(url: str) -> None:
    engine = engine_for(url)
    upgrade(engine, MIGRATIONS[:4])
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_hot_stays_cover"))  # as step 4 made hot_events before the index existed
    upgrade(engine, MIGRATIONS)
    _assert_stays_read_the_covering_index(engine, url)


def test_a_database_with_the_time_only_stays_index_gets_the_covering_one_in_its_place(url: str) -> None:
    engine = engine_for(url)
    upgrade(engine, MIGRATIONS[:5])
    with engine.begin() as conn:  # as step 5 made it before step 6 existed
        conn.execute(text("DROP INDEX ix_hot_stays_cover"))
        conn.execute(text("CREATE INDEX ix_hot_stays ON hot_events (ts) WHERE cat >= 2"))
    upgrade(engine, MIGRATIONS)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
        else:
            names = {r[0] for r in conn.execute(text("SELECT indexname FROM pg_indexes"))}
    assert "ix_hot_stays" not in names
    _assert_stays_read_the_covering_index(engine, url)


def _assert_stays_read_the_covering_index(engine: Any, url: str) -> None:
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {STAYS_READ}")))
            assert "COVERING INDEX ix_hot_stays_cover" in plan
            assert "TEMP B-TREE" not in plan  # in (ts, eid) order without a sort
        else:
            definition = conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_hot_stays_cover'")).scalar()
            assert definition.endswith("(ts, eid, series, old_state, duration, cat) WHERE (cat >= 2)")


def test_the_hot_tier_loses_its_event_id_key_and_keeps_every_row_and_index(url: str) -> None:
    import datetime as dt

    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, Table

    from ingestor.store import open_event_store
    from ingestor.store.model import EventFilter
    from ingestor.store.sqlschema import HOT_INDEXES, HOT_STAYS, hot_events
    from tests.store import rollup_model as model

    engine = engine_for(url)
    upgrade(engine, MIGRATIONS[:8])
    with engine.begin() as conn:  # hot_events as steps 4 to 8 made it: keyed by eid
        conn.execute(text("DROP TABLE hot_events"))
        Table("hot_events", MetaData(), *(Column(c.name, c.type, nullable=c.nullable) for c in hot_events.columns),
              PrimaryKeyConstraint("eid", name="pk_hot_events")).create(conn)
        for index in [*HOT_INDEXES, HOT_STAYS]:
            index.create(conn)
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=2)
    history = model.home(seed=10, start=start, hours=2, events=300)
    store = open_event_store(url)
    store.now_us = lambda: 0  # every event stays hot
    store._ready = True  # written at step 8, as the previous version wrote
    for batch in history.batches:
        store.write(batch)
    store.close()
    with engine.connect() as conn:
        before = sorted(tuple(r) for r in conn.execute(text("SELECT * FROM hot_events")))
        assert _hot_key(conn) == ["eid"] and len(before) == len(history.records)
    upgrade(engine, MIGRATIONS)
    with engine.connect() as conn:
        assert sorted(tuple(r) for r in conn.execute(text("SELECT * FROM hot_events"))) == before
        assert _hot_key(conn) == []
        if url.startswith("sqlite"):
            names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                     "AND tbl_name = 'hot_events'"))}
        else:
            names = {r[0] for r in conn.execute(text("SELECT indexname FROM pg_indexes "
                                                     "WHERE tablename = 'hot_events'"))}
    assert names == {"ix_hot_ts", "ix_hot_series_ts", "ix_hot_ctx", "ix_hot_parent", "ix_hot_stays_cover"}
    _assert_stays_read_the_covering_index(engine, url)
    store = open_event_store(url)
    store.now_us = lambda: 0
    for batch in history.batches:  # delivered again: found by series and time, stored once
        store.write(batch)
    assert store.count(EventFilter()) == len(history.records)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM hot_events")).scalar() == len(history.records)
    store.close()


def _hot_key(conn: Connection) -> list[str]:
    from sqlalchemy import inspect

    return list(inspect(conn).get_pk_constraint("hot_events")["constrained_columns"])


def test_a_database_compacted_before_stays_were_packed_answers_its_stays_from_blocks_until_filled(url: str) -> None:
    import datetime as dt

    from ingestor.store import open_event_store
    from ingestor.store.model import EventFilter
    from tests.store import rollup_model as model
    from tests.store.stays import block_days, newest_first, packed_days

    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # older than yesterday: compacted
    history = model.home(seed=11, start=start, hours=48, events=1500)
    store = open_event_store(url)
    for batch in history.batches:
        store.write(batch)
    while store.compact(30.0):
        pass
    f = EventFilter(start=start, end=start + dt.timedelta(days=2))
    packed = newest_first(store.stay_groups(f, 100_000))
    assert packed
    store.close()
    with engine_for(url).begin() as conn:  # as step 10 left it
        conn.execute(text("DROP TABLE cold_stays"))
        conn.execute(text("DELETE FROM schema_version WHERE version >= 11"))
    store = open_event_store(url)
    assert newest_first(store.stay_groups(f, 100_000)) == packed and not packed_days(store)
    assert len(list(store.fill_stays())) == len(block_days(store)) > 0
    assert newest_first(store.stay_groups(f, 100_000)) == packed and packed_days(store) == block_days(store)
    store.close()
