"""Moving a database of the first layout (one wide `events` row per event) into the tiered layout, in place.

Batch by batch, oldest first: a batch of old rows is written through the store's own write path (hot tier and
rollups, skipping events already moved) and deleted from the old table in the same transaction, so a killed
move resumes where it stopped and never counts an event twice; compaction then packs the moved days into
blocks as it does for new events. When the old table is empty it is dropped, in a transaction that checks it
is still empty (a writer of the previous version may have added rows meanwhile: they are moved first).

One process moves (a lease in `store_state`, renewed every batch, taken over when its owner has been silent
for LEASE_S); every store opened meanwhile, in any process, answers StoreUnavailable ("moving events to the
tiered layout", a 503 the connector retries), never a half-moved read.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from ingestor import jsoncodec
from ingestor.record import FIELDS
from ingestor.store import sqlwrite
from ingestor.store.model import StoreUnavailable
from ingestor.store.sqlschema import events, store_state
from ingestor.store.timerange import from_micros
from ingestor.timeutil import format_timestamp

if TYPE_CHECKING:
    from ingestor.store.sql import SqlEventStore

log = logging.getLogger(__name__)
NAME = "layout"
BATCH = 5000
LEASE_S = 30
ME = uuid.uuid4().hex
_PLAIN = tuple(f for f in FIELDS if f not in ("attributes", "weather", "data", "time_fired", "context"))
_movers: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def old_record(row: Any) -> dict[str, Any]:
    """A row of the first layout as the record it stored (as that layout's store read it back)."""
    values = row._mapping
    record = {name: values[name] for name in _PLAIN}
    record["time_fired"] = format_timestamp(from_micros(values["ts"]))
    record["context"] = {"id": values["context_id"], "parent_id": values["context_parent_id"],
                         "user_id": values["context_user_id"]}
    for name in ("attributes", "weather", "data"):
        record[name] = None if values[name] is None else jsoncodec.loads(values[name])
    if record["attributes"] is None:
        record["attributes"] = {}
    if values["extra"]:
        record.update(jsoncodec.loads(values["extra"]))
    return record


def _state(conn: Connection) -> Any:
    return conn.execute(select(store_state).where(store_state.c.name == NAME)).first()


def _has_old_table(conn: Connection) -> bool:
    return inspect(conn).has_table("events")


def ensure(store: SqlEventStore) -> None:
    """Return when the database is in the tiered layout; otherwise start (or leave to its owner) the move
    and raise StoreUnavailable saying how far it is."""
    with store.engine.connect() as conn:
        found = _state(conn)
        if found is not None and found.value == "done":
            return
    left = _left(store)
    if left == 0:
        finish(store)
        return
    if claim(store):
        start(store)
    raise StoreUnavailable(f"moving events to the tiered layout: {left:,} left (retry later)")


def _left(store: SqlEventStore) -> int:
    """The old rows left; 0 once the old table is gone, also when a mover (in this process or another) drops it
    between the look for it and the count."""
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar() or 0) \
                if _has_old_table(conn) else 0
    except DBAPIError:
        with store.engine.connect() as conn:
            if _has_old_table(conn):
                raise
        return 0


def claim(store: SqlEventStore) -> bool:
    """Take (or renew) the mover's lease; False while another process holds it."""
    now = time.time_ns() // 1000
    with store.writing() as conn:
        found = _state(conn)
        if found is None:
            conn.execute(insert(store_state).values(name=NAME, value="moving", owner=ME, beat=now))
            return True
        if found.value == "done":
            return False
        if found.owner == ME or (found.beat or 0) < now - LEASE_S * 1_000_000:
            conn.execute(update(store_state).where(store_state.c.name == NAME).values(owner=ME, beat=now))
            return True
    return False


def start(store: SqlEventStore) -> None:
    with _lock:
        running = _movers.get(store.url)
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(target=_run, args=(store,), name="layout-move", daemon=True)
        _movers[store.url] = thread
        thread.start()


def _run(store: SqlEventStore) -> None:
    try:
        move(store)
    except Exception:  # noqa: BLE001 - logged; the lease lapses and the next start resumes
        log.exception("moving events to the tiered layout stopped; it resumes when the store is next opened")


def move(store: SqlEventStore, batch: int = BATCH, batches: int | None = None) -> int:
    """Move old rows until none are left (or `batches` batches); returns how many were moved."""
    moved = 0
    done = 0
    started = time.monotonic()
    while batches is None or done < batches:
        n = move_batch(store, batch)
        if n == 0:
            finish(store)
            log.info("events moved to the tiered layout", extra={"events": moved,
                                                                  "seconds": round(time.monotonic() - started)})
            return moved
        moved += n
        done += 1
        store.compact(1.0)
    return moved


def move_batch(store: SqlEventStore, batch: int = BATCH) -> int:
    """One batch: write the oldest old rows through the write path, delete them, renew the lease."""
    with store.writing() as conn:
        found = _state(conn)
        if found is not None and found.owner not in (None, ME):
            now = time.time_ns() // 1000
            if (found.beat or 0) >= now - LEASE_S * 1_000_000:
                raise StoreUnavailable("another process is moving events to the tiered layout")
        if not _has_old_table(conn):
            return 0
        rows = list(conn.execute(select(events).order_by(events.c.ts, events.c.event_id).limit(batch)))
        if not rows:
            return 0
        sqlwrite.write(conn, store.dicts, store.backend, [old_record(r) for r in rows])
        ids = [r.event_id for r in rows]
        for i in range(0, len(ids), 500):
            conn.execute(delete(events).where(events.c.event_id.in_(ids[i:i + 500])))
        conn.execute(update(store_state).where(store_state.c.name == NAME)
                     .values(owner=ME, beat=time.time_ns() // 1000))
    return len(rows)


def finish(store: SqlEventStore) -> None:
    """Drop the empty old table and mark the layout done (in one transaction that checks it is empty)."""
    with store.writing() as conn:
        if _has_old_table(conn):
            if conn.execute(select(events.c.event_id).limit(1)).first() is not None:
                return
            conn.execute(text("DROP TABLE events"))
        found = _state(conn)
        if found is None:
            conn.execute(insert(store_state).values(name=NAME, value="done", owner=None, beat=None))
        else:
            conn.execute(update(store_state).where(store_state.c.name == NAME).values(value="done", owner=None))
