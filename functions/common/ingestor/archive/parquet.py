"""A day as Parquet (pyarrow, zstd), for analytics tools that read S3 directly (DuckDB, Spark, pandas, Athena).

One column per record field, so a query reads only what it needs: `time_fired` is a UTC timestamp, `state_value`
a double, JSON fields (`attributes`, `weather`, `data`, and `extra` for fields the schema does not know) are
the JSON text the store holds. Two columns are stored compactly and put back exactly on restore:
- `event_id` is null where it equals the id derived from the row itself by derivation "1" (below: the entity,
  time and state of a state change; type, time, context and data otherwise; ingestor.event_id as the pipeline
  derives ids today): 16 random bytes a row saved. The derivation is this format's own and frozen, so archives
  read back the same whatever the pipeline does later (a pipeline that derives differently only makes new
  files store their ids); the file's metadata names it (`ha_ingestor.event_id`), restore refuses one it does
  not know.
- `duration_in_state_us` holds durations in whole microseconds (what normalize produces); a duration that is
  not exactly representable so goes to the double column `duration_in_state` instead.
Layout 2 (`ha_ingestor.layout`; files without it are layout 1, still read) stores two more things apart, the
bytes that made half of a layout-1 file on the store benchmark's events (README, Performance):
- The `age_s` (tenths of a second) of `weather` and of each source in `extra`, which differs in every event,
  is taken out of the JSON (left there as null, so the column stays JSON and repeats until the next fetch)
  into `weather_age` and `extra_ages` as whole tenths counted from the event's own tenth of a second: within a
  fetch these stay nearly the same. An age that tenths do not give back exactly stays in the JSON.
- A `context_id` that is a ULID (as HA makes them) goes to `context_id_random` (its 10 random bytes) and
  `context_id_ms` (its milliseconds less the event's: mostly 0); `context_id` holds the others.
Rows are written in row groups of at least ROW_GROUP events (whole batches) consecutive in time, each sorted
by (entity_id, time_fired): an entity's states, values and durations then lie together and compress several
times better; readers filter on time by the row groups' statistics as before, and restore puts each group back
in (time_fired, event_id) order. The top-level key order of the records is kept in the file's metadata. A record
the layout cannot reproduce exactly is caught before upload (the staged file is decoded and its digest
compared): the day then fails with a message to archive it as NDJSON.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import math
from collections.abc import Iterator
from typing import Any, BinaryIO

from ingestor import jsoncodec
from ingestor.archive.digest import Digest, line
from ingestor.archive.errors import ArchiveError, VerificationError
from ingestor.store.blocks import ulid_bytes, ulid_text
from ingestor.store.rows import micros_of

NAME = "parquet"
EXTENSION = "parquet"
CONTENT_TYPE = "application/vnd.apache.parquet"
ROW_GROUP = 8_192  # rows buffered (and read back) at a time: bounds memory, keeps dictionaries and runs useful
# (measured at 100,000 events: 16,384 peaked 22 MB higher for 1.4 bytes an event less; 4,096 10 MB lower for 1.8 more)
PY_ROWS = 500  # rows a read turns into Python columns at a time, on the way to a batch of records (a batch
# of 2,500 at once held its columns as Python objects beside its records)
ZSTD_LEVEL = 12  # measured: 0.9-1.8 bytes an event less than 9; 15 saves 0.7-1.5 more for 2-4x the time
DERIVATION = "1"  # ingestor.event_id as of this layout; a changed derivation needs a new value and its reader
STRINGS = ("event_type", "origin", "entity_id", "domain", "state", "old_state", "unit", "device_class",
           "friendly_name", "device_id", "area_id", "device_manufacturer", "device_model")
JSONS = ("attributes", "weather", "data")
KNOWN = frozenset(("event_id", "time_fired", "state_value", "duration_in_state", "context", *STRINGS, *JSONS))
CONTEXT = ("id", "parent_id", "user_id")
LAYOUT = "2"
_DELTA = {"time_fired": "DELTA_BINARY_PACKED", "duration_in_state_us": "DELTA_BINARY_PACKED"}
_PLAIN = ("context_id_random",)  # random bytes: a dictionary would only cost memory and time
_KEYS = b"ha_ingestor.record_keys"
_DERIVATION = b"ha_ingestor.event_id"
_LAYOUT = b"ha_ingestor.layout"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_WRITER = {"version": "2.6", "writer_engine_version": "V2", "data_page_version": "1.0",
           "use_deprecated_int96_timestamps": False}  # pyarrow.parquet.ParquetWriter's defaults (pyarrow 26)
_READER = {"pre_buffer": True, "arrow_extensions_enabled": True}  # pyarrow.parquet.ParquetFile's defaults


def _pa() -> Any:
    """pyarrow, imported on first use: NDJSON-only processes never pay for it. Its buffers come from the
    system allocator, which hands freed memory back to the one Python uses (measured: its default jemalloc
    pool kept about 40 MB more resident at the same work).

    The Parquet writer and reader are pyarrow.parquet's own (`pyarrow._parquet`, which pyarrow.parquet wraps),
    taken without pyarrow.parquet: that imports pyarrow.fs and with it the S3, GCS, Azure and HDFS filesystems
    and their libraries (libarrow_s3 …), which a local file never needs (measured: the archive run of a
    100,000-event day peaks ~5 MB lower without them). _WRITER and _READER pass what pyarrow.parquet's
    ParquetWriter and ParquetFile pass by default, so the files are the same bytes (tests/archive).

    The few compute functions used (sort, take, strftime) are called through `pyarrow._compute` (_call), not
    pyarrow.compute, which builds a Python wrapper with its docstring for each of several hundred functions;
    Array.take, .cast and the like import it, so they are not used (measured: ~3 MB of an archive run)."""
    import pyarrow
    import pyarrow._compute
    import pyarrow._parquet

    if pyarrow.default_memory_pool().backend_name != "system":
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
        pyarrow.set_cpu_count(1)  # one day at a time, batch by batch: threads would only add malloc arenas
        pyarrow.set_io_thread_count(1)
        _map_large_blocks()
    return pyarrow


def _call(name: str, *args: Any, options: Any = None) -> Any:
    """A compute function by name (what pyarrow.compute.<name> calls), without importing pyarrow.compute."""
    return _pa()._compute.call_function(name, list(args), options)


_TRIM: list[Any] = []  # glibc's malloc_trim once looked up ([None] where there is none)


def _trim() -> None:
    """Give the free pages inside glibc's heap back to the system, after a row group is written or read.
    Objects over 512 bytes (records' dicts, JSON text) and Arrow's small buffers come from that heap; freed
    between groups, they leave holes that a heap only returns from its top (M_TRIM_THRESHOLD), so the next
    group's peak stacks on them (measured at 100,000 events: archive run 167 -> 162 MB, its decode check
    166 -> 157; a few ms a group, ~180 groups at 1.5 million events). Elsewhere (musl, macOS) nothing."""
    if not _TRIM:
        try:
            _TRIM.append(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim)
        except (OSError, AttributeError):
            _TRIM.append(None)
    if _TRIM[0] is not None:
        _TRIM[0](0)


def _map_large_blocks() -> None:
    """glibc's malloc serves a freed large block's size from its heap from then on (its mmap threshold rises
    up to 32 MB), and a heap only shrinks from its top: a row group's column buffers, freed and allocated
    again group after group, leave the heap fragmented and resident. A fixed threshold maps every block of
    64 KiB or more on its own and unmaps it when freed (with the column-at-a-time sort below: a 10,000-event
    day's archive run peaks 20 MB lower, README's Performance). Elsewhere (musl, macOS) nothing changes."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 64 * 1024)
    mallopt(_M_TRIM_THRESHOLD, 1024 * 1024)  # and give a free heap top of 1 MiB or more back at once


def schema() -> Any:
    pa = _pa()
    return pa.schema([
        ("time_fired", pa.timestamp("us", tz="UTC")), ("event_id", pa.string()),
        *[(name, pa.string()) for name in STRINGS],
        ("state_value", pa.float64()), ("duration_in_state_us", pa.int64()), ("duration_in_state", pa.float64()),
        *[(f"context_{name}", pa.string()) for name in CONTEXT],
        *[(name, pa.string()) for name in (*JSONS, "extra")],
        ("context_id_random", pa.binary(10)), ("context_id_ms", pa.int64()),
        ("weather_age", pa.int64()), ("extra_ages", pa.list_(pa.int64()))])


def options(schema: Any) -> dict[str, Any]:
    """How a day's columns are written (what pyarrow.parquet.ParquetWriter takes as well)."""
    return {"compression": "zstd", "compression_level": ZSTD_LEVEL,
            "use_dictionary": [n for n in schema.names if n not in _DELTA and n not in _PLAIN],
            "column_encoding": {name: _DELTA[name] for name in _DELTA},
            "write_statistics": [n for n in schema.names if n not in (*JSONS, "extra")]}  # no filter on JSON text


def derived_id(record: dict[str, Any]) -> str | None:
    """Derivation "1": blake2b-128 over the JSON array (keys sorted) of ["state_changed", entity_id, time_fired,
    state] for a state change, [event_type, time_fired, context id, data] otherwise; None when the row cannot
    be hashed so."""
    try:
        if record["event_type"] == "state_changed":
            parts = ["state_changed", record["entity_id"], record["time_fired"], record["state"]]
        else:
            parts = [record["event_type"], record["time_fired"], (record["context"] or {}).get("id"), record["data"]]
        return hashlib.blake2b(jsoncodec.dumps(parts, sort_keys=True), digest_size=16).hexdigest()
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _json(value: Any) -> str | None:
    return None if value is None else jsoncodec.dumps(value).decode()


def _cut_age(source: Any, tenth: int) -> tuple[Any, int | None]:
    """(the source with its age left null, the age in tenths from `tenth`) when that gives it back exactly."""
    if not isinstance(source, dict):
        return source, None
    age = source.get("age_s")
    if type(age) is not float or not abs(age) < 1e12 or (age == 0 and math.copysign(1.0, age) < 0):
        return source, None
    ages = round(age * 10) - tenth
    if (ages + tenth) / 10 != age:
        return source, None
    return {**source, "age_s": None}, ages


def _put_age(source: Any, ages: int | None, tenth: int) -> None:
    if ages is not None:
        source["age_s"] = (ages + tenth) / 10


def _context_id(text: str | None, ms: int) -> tuple[str | None, bytes | None, int | None]:
    """(text, random bytes, milliseconds from `ms`): a ULID as its parts, anything else as its text."""
    raw = ulid_bytes(text)
    if raw is None:
        return text, None, None
    return None, raw[6:], int.from_bytes(raw[:6], "big") - ms


class Writer:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._writer: Any = None
        self._keys: tuple[str, ...] = ()
        self._pending: list[Any] = []
        self._pending_rows = 0

    def _open(self, first: dict[str, Any]) -> None:
        pa = _pa()
        self._keys = tuple(k for k in first if k in KNOWN)
        if set(self._keys) != KNOWN:
            raise ArchiveError(f"records lack {sorted(KNOWN - set(self._keys))}: Parquet cannot hold them exactly; "
                               "archive with ARCHIVE_FORMAT=ndjson")
        meta = {_KEYS: jsoncodec.dumps(self._keys), _DERIVATION: DERIVATION.encode(), _LAYOUT: LAYOUT.encode()}
        self._schema = schema().with_metadata(meta)
        self._writer = pa._parquet.ParquetWriter(self._file, self._schema, **_WRITER, **options(self._schema))

    def write(self, records: list[dict[str, Any]], lines: list[bytes]) -> None:
        if not records:
            return
        if self._writer is None:
            self._open(records[0])
        pa = _pa()
        n = len(self._keys)
        columns: dict[str, list[Any]] = {name: [] for name in self._schema.names}
        for record in records:
            keys = tuple(record)
            if keys[:n] != self._keys:
                raise ArchiveError(f"event {record.get('event_id')}: its fields differ in order from the day's "
                                   "first record; archive with ARCHIVE_FORMAT=ndjson")
            try:
                micros = micros_of(record["time_fired"])
            except (ValueError, TypeError):
                raise ArchiveError(f"event {record.get('event_id')}: time_fired {record['time_fired']!r} is not a "
                                   "time; archive with ARCHIVE_FORMAT=ndjson") from None
            columns["time_fired"].append(micros)  # text the reader gives back differently fails the check
            tenth = micros // 100_000
            eid = record["event_id"]
            columns["event_id"].append(None if eid == derived_id(record) else eid)
            for name in STRINGS:
                columns[name].append(record[name])
            columns["state_value"].append(record["state_value"])
            duration = record["duration_in_state"]
            whole = None
            if isinstance(duration, float) and abs(duration) < 1e12 and round(duration * 1e6) / 1e6 == duration:
                whole = round(duration * 1e6)
            columns["duration_in_state_us"].append(whole)
            columns["duration_in_state"].append(duration if whole is None else None)
            context = record["context"]
            if not isinstance(context, dict) or tuple(context) != CONTEXT:
                raise ArchiveError(f"event {eid}: context is not {{id, parent_id, user_id}}; archive with "
                                   "ARCHIVE_FORMAT=ndjson")
            text, random, ms = _context_id(context["id"], micros // 1000)
            columns["context_id"].append(text)
            columns["context_id_random"].append(random)
            columns["context_id_ms"].append(ms)
            for name in CONTEXT[1:]:
                columns[f"context_{name}"].append(context[name])
            weather, age = _cut_age(record["weather"], tenth)
            columns["weather_age"].append(age)
            for name in JSONS:
                columns[name].append(_json(weather if name == "weather" else record[name]))
            extra, ages = {}, []
            for key in keys[n:]:
                extra[key], age = _cut_age(record[key], tenth)
                if isinstance(extra[key], dict) and "age_s" in extra[key]:
                    ages.append(age)
            columns["extra"].append(_json(extra) if len(keys) > n else None)
            columns["extra_ages"].append(ages or None)
        try:
            arrays = [pa.array(columns[f.name], f.type) for f in self._schema]
            self._pending.append(pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
            raise ArchiveError(f"Parquet cannot hold these records ({exc}); archive with ARCHIVE_FORMAT=ndjson") \
                from None
        self._pending_rows += len(records)
        if self._pending_rows >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            pa = _pa()
            columns = pa.Table.from_batches(self._pending).columns
            self._pending, self._pending_rows = [], 0
            keys = pa.table({"e": columns[self._schema.get_field_index("entity_id")], "t": columns[0]})
            order = _call("sort_indices", keys, options=pa._compute.SortOptions(
                sort_keys=[("e", "ascending", "at_start"), ("t", "ascending", "at_start")]))
            del keys
            for i, column in enumerate(columns):  # one column at a time: the group is held once, not twice
                columns[i] = _call("take", column, order)
                del column
            self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema), row_group_size=len(order))
            del columns, order
            _trim()

    def close(self) -> None:
        if self._writer is None:  # no records: an empty file of the schema
            self._writer = _pa()._parquet.ParquetWriter(self._file, schema(), compression="snappy", **_WRITER)
        self._flush()
        self._writer.close()


def read(path: str, batch: int, digest: Digest) -> Iterator[list[dict[str, Any]]]:
    """Records in lists of `batch`, rebuilt exactly; each goes into `digest` as its NDJSON line."""
    pa = _pa()
    file = pa._parquet.ParquetReader()
    try:
        file.open(path, **_READER)
        meta = file.schema_arrow.metadata or {}
        if meta.get(_DERIVATION) != DERIVATION.encode() or _KEYS not in meta or \
                meta.get(_LAYOUT, b"1") not in (b"1", LAYOUT.encode()):
            raise VerificationError(f"not an HA Ingestor day file of a known layout ({_DERIVATION.decode()}="
                                    f"{meta.get(_DERIVATION)!r}, {_LAYOUT.decode()}={meta.get(_LAYOUT)!r})")
        keys = tuple(jsoncodec.loads(meta[_KEYS]))
        tied: list[dict[str, Any]] = []  # records at the same instant as the last one, held until the next differs
        for group in range(file.num_row_groups):
            table = file.read_row_group(group, column_indices=None, use_threads=False)
            order = _call("sort_indices", table.column(0))
            for start in range(0, table.num_rows, batch):  # the group once, and a batch of it in time order
                chunk = _call("take", table, order[start:start + batch]).combine_chunks().to_batches()[0]
                records = tied
                for at in range(0, chunk.num_rows, PY_ROWS):  # Python's columns of a few rows at a time
                    records += _records(pa, chunk.slice(at, PY_ROWS), keys)
                cut = len(records)
                while cut and records[cut - 1]["time_fired"] == records[-1]["time_fired"]:
                    cut -= 1
                records, tied = records[:cut], records[cut:]
                if records:
                    yield _ordered(records, digest)
            table = order = chunk = None  # freed before the trim
            _trim()
        if tied:
            yield _ordered(tied, digest)
    except (pa.ArrowException, OSError, jsoncodec.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"unreadable Parquet ({type(exc).__name__}: {exc})") from None
    except ArchiveError as exc:
        raise VerificationError(str(exc)) from None
    finally:
        file.close()


def _records(pa: Any, rows: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The records of a record batch's rows."""
    times = _call("strftime", rows.column(0), options=pa._compute.StrftimeOptions("%Y-%m-%dT%H:%M:%SZ", "C"))
    columns = rows.set_column(0, "time_fired", times).to_pydict()
    columns["_micros"] = rows.column(0).view(pa.int64()).to_pylist()
    return [_record({name: values[i] for name, values in columns.items()}, keys) for i in range(rows.num_rows)]


def _ordered(records: list[dict[str, Any]], digest: Digest) -> list[dict[str, Any]]:
    """Records in time order already; ties (one instant) ordered by event_id, as they were archived."""
    records.sort(key=lambda r: (r["time_fired"], r["event_id"]))
    for record in records:
        digest.add(record, line(record))
    return records


def _record(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {name: row[name] for name in STRINGS}
    fields["time_fired"] = row["time_fired"]
    fields["state_value"] = row["state_value"]
    whole = row["duration_in_state_us"]
    fields["duration_in_state"] = whole / 1e6 if whole is not None else row["duration_in_state"]
    fields["context"] = {name: row[f"context_{name}"] for name in CONTEXT}
    micros = row["_micros"]
    random = row.get("context_id_random")
    if random is not None:
        fields["context"]["id"] = ulid_text((micros // 1000 + row["context_id_ms"]).to_bytes(6, "big") + random)
    for name in JSONS:
        fields[name] = None if row[name] is None else jsoncodec.loads(row[name])
    _put_age(fields["weather"], row.get("weather_age"), micros // 100_000)
    fields["event_id"] = row["event_id"]
    if fields["event_id"] is None:
        fields["event_id"] = derived_id(fields)
    record = {key: fields[key] for key in keys}
    if row["extra"] is not None:
        extra = jsoncodec.loads(row["extra"])
        ages = iter(row.get("extra_ages") or ())
        for source in extra.values():
            if isinstance(source, dict) and "age_s" in source:
                _put_age(source, next(ages, None), micros // 100_000)
        record.update(extra)
    return record
