"""The SQL store's dictionaries: series, strings and JSON documents, each stored once and cached per process.

Ids only grow and rows never change (but for series flags), so a process caches what it has read. Another
process may add series at any time: readers that resolve a filter into series ids first load the series
newer than the newest they know (one indexed query). New ids enter the caches only when their transaction
commits (`commit`); a failed write forgets them (`rollback`).

Threads of a process share the dictionaries (the function's request threads; a durations answer's two reads,
queries/analytics.py). `series`, which reads walk, is never changed in place: new series go into a copy that
replaces it whole, so a walk over it meanwhile sees the old one, not "dictionary changed size during
iteration"; one thread at a time loads new series.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ingestor.store.rows import SERIES_FIELDS, Series
from ingestor.store.sqlschema import FLAG_VALUE_EXCEPTIONS, docs, series, strings

DOC_CACHE_BYTES = 32 * 1024 * 1024


def _hash(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


def series_key(values: Series) -> bytes:
    return _hash("\x1f".join("\x00" if v is None else "\x01" + v for v in values).encode())


class Dictionaries:
    def __init__(self) -> None:
        self.series: dict[int, Series] = {}
        self.series_flags: dict[int, int] = {}
        self._series_ids: dict[Series, int] = {}
        self._entity_series: dict[tuple[str | None, str | None], list[int]] = {}  # (event type, entity): series
        self._max_series = 0
        self._strings: dict[str, int] = {}
        self._string_values: dict[int, str] = {}
        self._doc_ids: dict[bytes, int] = {}  # hash -> id
        self._docs: OrderedDict[int, bytes] = OrderedDict()
        self._doc_bytes = 0
        self._pending: dict[tuple[str, Any], Any] = {}
        self._loading = threading.Lock()  # one refresh_series at a time

    # --- transactions ------------------------------------------------------------------------------

    def commit(self) -> None:
        known = None
        for (kind, key), value in self._pending.items():
            if kind == "series":
                known = known if known is not None else dict(self.series)
                self._add_series(known, value, key)
                self.series_flags.setdefault(value, 0)
                self._max_series = max(self._max_series, value)
            elif kind == "flags":
                self.series_flags[key] = value
            elif kind == "string":
                self._strings[key] = value
                self._string_values[value] = key
            else:
                self._doc_ids[key] = value
        if known is not None:
            self.series = known
        self._pending.clear()

    def rollback(self) -> None:
        self._pending.clear()

    def _uncommitted(self, kind: str, key: Any) -> Any:
        return self._pending.get((kind, key))

    # --- series -------------------------------------------------------------------------------------

    def refresh_series(self, conn: Connection) -> None:
        """Load the series created since this process last looked, and every series' flags."""
        newest = conn.exec_driver_sql("SELECT max(id) FROM series").scalar() or 0  # per batch: past SQLAlchemy
        if newest <= self._max_series:
            return
        with self._loading:
            if newest <= self._max_series:  # loaded by another thread meanwhile
                return
            known = dict(self.series)
            for row in conn.execute(select(series).where(series.c.id > self._max_series, series.c.id <= newest)):
                self._add_series(known, row.id, tuple(row._mapping[name] for name in SERIES_FIELDS))
                self.series_flags[row.id] = row.flags
            self.series = known
            self._max_series = newest

    def _add_series(self, known: dict[int, Series], sid: int, values: Series) -> None:
        """`sid` into `known` (the copy that replaces `series`) and the lookups by values and entity."""
        known[sid] = values
        self._series_ids[values] = sid
        same = self._entity_series.setdefault((values[0], values[1]), [])
        if sid not in same:
            same.append(sid)

    def series_of_entity(self, event_type: str | None, entity_id: str | None) -> list[int]:
        """The series of this event type and entity (they differ by the entity's other names: area, unit…), as
        of the last refresh_series: kept as series are learnt, instead of found among all series per batch."""
        return self._entity_series.get((event_type, entity_id), [])

    def refresh_flags(self, conn: Connection) -> None:
        for sid, flags in conn.execute(select(series.c.id, series.c.flags).where(series.c.flags != 0)):
            self.series_flags[sid] = flags

    def series_id(self, conn: Connection, values: Series) -> int:
        found = self._series_ids.get(values) or self._uncommitted("series", values)
        if found:
            return int(found)
        key = series_key(values)
        found = conn.execute(select(series.c.id).where(series.c.key == key)).scalar()
        if found is None:
            row = dict(zip(SERIES_FIELDS, values, strict=True))
            found = conn.execute(insert(series).values(key=key, flags=0, **row)).inserted_primary_key[0]
        self._pending[("series", values)] = int(found)
        return int(found)

    def flag(self, conn: Connection, sid: int, flag: int) -> None:
        flags = self._uncommitted("flags", sid) or self.series_flags.get(sid, 0)
        if flags & flag:
            return
        conn.execute(update(series).where(series.c.id == sid).values(flags=series.c.flags.op("|")(flag)))
        self._pending[("flags", sid)] = flags | flag

    def value_exceptions(self, sids: Iterable[int]) -> bool:
        return any(self.series_flags.get(s, 0) & FLAG_VALUE_EXCEPTIONS for s in sids)

    # --- strings ------------------------------------------------------------------------------------

    def string_id(self, conn: Connection, value: str) -> int:
        found = self._strings.get(value) or self._uncommitted("string", value)
        if found:
            return int(found)
        found = conn.execute(select(strings.c.id).where(strings.c.value == value)).scalar()
        if found is None:
            found = conn.execute(insert(strings).values(value=value)).inserted_primary_key[0]
        self._pending[("string", value)] = int(found)
        return int(found)

    def find_string(self, conn: Connection, value: str) -> int | None:
        """The id of `value` if it was ever stored (a reader's lookup: never inserts)."""
        found = self._strings.get(value)
        if found is None:
            found = conn.execute(select(strings.c.id).where(strings.c.value == value)).scalar()
            if found is not None:
                self._strings[value] = int(found)
                self._string_values[int(found)] = value
        return found

    def string_values(self, conn: Connection, ids: Iterable[int]) -> dict[int, str]:
        missing = [i for i in set(ids) if i and i not in self._string_values]
        for start in range(0, len(missing), 500):
            for sid, value in conn.execute(select(strings.c.id, strings.c.value)
                                           .where(strings.c.id.in_(missing[start:start + 500]))):
                self._string_values[sid] = value
                self._strings[value] = sid
        return self._string_values

    # --- documents ----------------------------------------------------------------------------------

    def doc_ids(self, conn: Connection, bodies: Iterable[bytes]) -> dict[bytes, int]:
        """Ids of JSON documents (stored when new), by body."""
        out: dict[bytes, int] = {}
        wanted: dict[bytes, bytes] = {}
        seen: set[bytes] = set()  # a batch repeats its documents: each is hashed and looked up once
        for body in bodies:
            if body in seen:
                continue
            seen.add(body)
            digest = _hash(body)
            found = self._doc_ids.get(digest) or self._uncommitted("doc", digest)
            if found:
                out[body] = found
            else:
                wanted[digest] = body
        keys = list(wanted)
        for start in range(0, len(keys), 500):
            for digest, did in conn.execute(select(docs.c.hash, docs.c.id)
                                            .where(docs.c.hash.in_(keys[start:start + 500]))):
                out[wanted.pop(bytes(digest))] = did
                self._pending[("doc", bytes(digest))] = did
        for digest, body in wanted.items():
            did = conn.execute(insert(docs).values(hash=digest, body=body)).inserted_primary_key[0]
            out[body] = did
            self._pending[("doc", digest)] = did
            self._remember(did, body)
        return out

    def _remember(self, did: int, body: bytes) -> None:
        if did in self._docs:
            self._docs.move_to_end(did)
            return
        self._docs[did] = body
        self._doc_bytes += len(body)
        while self._doc_bytes > DOC_CACHE_BYTES and self._docs:
            _, old = self._docs.popitem(last=False)
            self._doc_bytes -= len(old)

    def load_docs(self, conn: Connection, ids: Iterable[int]) -> None:
        missing = sorted({i for i in ids if i and i not in self._docs})
        for start in range(0, len(missing), 500):
            for did, body in conn.execute(select(docs.c.id, docs.c.body)
                                          .where(docs.c.id.in_(missing[start:start + 500]))):
                self._remember(did, bytes(body))

    def docs(self, conn: Connection, ids: Iterable[int]) -> dict[int, bytes]:
        """The bodies of documents by id (from the cache, else read)."""
        wanted = {i for i in ids if i}
        self.load_docs(conn, wanted)
        out = {i: self._docs[i] for i in wanted if i in self._docs}
        missing = [i for i in wanted if i not in out]  # evicted meanwhile: a read larger than the cache
        for start in range(0, len(missing), 500):
            for did, body in conn.execute(select(docs.c.id, docs.c.body)
                                          .where(docs.c.id.in_(missing[start:start + 500]))):
                out[did] = bytes(body)
        return out
