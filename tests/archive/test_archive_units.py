"""The pieces without servers: day files in both formats, summaries, the schedule, the configuration."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingestor import config
from ingestor.archive import dayfile, layout, parquet, schedule, settings, summaries
from ingestor.archive.digest import Digest
from ingestor.archive.errors import ArchiveError
from ingestor.store.blocks import ulid_text
from ingestor.store.rows import micros_of
from tests.archive.conftest import OLD_DAYS, day_records


def enriched(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as weather-enrich leaves them (weather and air quality with their ages in tenths of a
    second, ULID context ids made at the event's millisecond or a little before), with the odd cases a
    layout must still give back exactly: an integer age, a negative zero, a null age, a context id that is
    no ULID, a ULID made earlier than the event."""
    for i, record in enumerate(records):
        at = micros_of(record["time_fired"])
        fetched = "2025-10-31T00:00:07Z"
        record["weather"] = {"temperature": 13.5, "condition": "clear", "fetched_at": fetched,
                             "age_s": round((at / 1e6 % 3600) + 0.1 * (i % 7), 1), "stale": False}
        record["air_quality"] = {"aqi": 21, "fetched_at": fetched, "age_s": round(at / 1e6 % 900, 1)}
        record["context"]["id"] = ulid_text(((at // 1000) - (i % 5) * 37).to_bytes(6, "big") + bytes([i]) * 10)
    records[1]["weather"]["age_s"] = 12  # an integer: a double would give back 12.0
    records[2]["air_quality"]["age_s"] = -0.0
    records[3]["weather"]["age_s"] = None
    records[4]["context"]["id"] = "c-1"
    records[5]["air_quality"] = None
    return records


def ordered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["time_fired"], r["event_id"]))


def stage(tmp_path: Path, fmt: str, records: list[dict[str, Any]], batch: int = 7) -> dayfile.DayFile:
    writer = dayfile.DayWriter(OLD_DAYS[0], fmt, str(tmp_path))
    for i in range(0, len(records), batch):
        writer.add(records[i:i + batch])
    return writer.finish(batch)


def read_back(file: dayfile.DayFile) -> list[dict[str, Any]]:
    manifest = dayfile.manifest(file, "k", "test")
    return [r for batch in dayfile.read(file.path, manifest, 5) for r in batch]


def test_the_same_records_give_the_same_bytes(tmp_path: Path) -> None:
    records = ordered(day_records(OLD_DAYS[0]))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one, two = stage(tmp_path / "a", "ndjson", records), stage(tmp_path / "b", "ndjson", records)
    assert one.sha256 == two.sha256 and Path(one.path).read_bytes() == Path(two.path).read_bytes()
    lines = gzip.decompress(Path(one.path).read_bytes()).splitlines(keepends=True)
    assert [json.loads(line) for line in lines] == records and one.rows == 48
    assert one.sha256_ndjson == hashlib.sha256(b"".join(lines)).hexdigest()


def test_parquet_gives_events_of_one_instant_back_in_event_id_order_across_row_groups(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet, "ROW_GROUP", 6)  # instants split across groups
    records = day_records(OLD_DAYS[0], 40)
    for i, record in enumerate(records):  # five instants, eight events each, of several entities
        record["time_fired"] = f"{OLD_DAYS[0]}T0{i // 8}:00:00.000000Z"
    records = ordered(records)
    assert read_back(stage(tmp_path, "parquet", records, batch=3)) == records


def test_parquet_writes_and_reads_a_busy_day_in_row_groups_of_about_8192_events(tmp_path: Path) -> None:
    """A row group is what the writer buffers and restore decodes whole (README, Performance: 16,384 events a
    group peaked 22 MB higher at 100,000 events a day, for 1.4 bytes an event less)."""
    import pyarrow.parquet as pq

    records = ordered(day_records(OLD_DAYS[0], 20_000))
    file = stage(tmp_path, "parquet", records, batch=1000)
    meta = pq.ParquetFile(file.path).metadata
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(groups) == 20_000 and max(groups) < 8_192 + 1000  # whole batches, flushed from 8,192 on
    assert read_back(file) == records


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_a_staged_day_reads_back_exactly_with_key_order_in_both_formats(tmp_path: Path, fmt: str) -> None:
    records = ordered(day_records(OLD_DAYS[0]))
    records[3]["attributes"] = {"zeta": 1, "alpha": {"b": 2.5, "a": None}, "unit_of_measurement": "°C"}
    records[5]["surprise"] = {"y": 1, "x": [3, 2]}  # a field no schema knows
    back = read_back(stage(tmp_path, fmt, records))
    assert back == records
    assert [json.dumps(r) for r in back] == [json.dumps(r) for r in records]  # key order at every level


def test_the_content_checksum_is_the_same_in_both_formats(tmp_path: Path) -> None:
    records = ordered(day_records(OLD_DAYS[0]))
    (tmp_path / "n").mkdir()
    (tmp_path / "p").mkdir()
    as_ndjson, as_parquet = stage(tmp_path / "n", "ndjson", records), stage(tmp_path / "p", "parquet", records)
    assert as_ndjson.sha256_ndjson == as_parquet.sha256_ndjson and as_ndjson.rows == as_parquet.rows == 48


def test_parquet_leaves_out_only_the_event_ids_derived_as_the_pipeline_derives_them(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    records = ordered(day_records(OLD_DAYS[0]))
    records[0]["event_id"] = "f" * 32  # not what the pipeline would derive: stored
    table = pq.read_table(stage(tmp_path, "parquet", records).path).sort_by("time_fired")
    ids = table.column("event_id").to_pylist()
    assert ids[0] == "f" * 32 and ids[1:] == [None] * 47
    assert table.column("time_fired").type.tz == "UTC" and table.column("state_value").type == "double"


def test_the_event_id_derivation_parquet_relies_on_has_not_changed() -> None:
    """Parquet archives written years ago leave ids out that derivation "1" gives back: it must never change
    (a new derivation needs a new parquet.DERIVATION, and the reader keeps the old one)."""
    state = {"event_id": "", "event_type": "state_changed", "entity_id": "sensor.x", "state": "21.5",
             "time_fired": "2025-01-31T12:00:00.000000Z", "context": {"id": "c"}, "data": None}
    other = {**state, "event_type": "call_service", "state": None, "data": {"domain": "light", "service": "on"}}
    assert parquet.derived_id(state) == "f1b04807447c6f006803e5321259f768"
    assert parquet.derived_id(other) == "55db04107038e4539604fc19f47e9ae9"


def test_a_staged_file_that_does_not_give_the_records_back_fails_before_upload(tmp_path: Path) -> None:
    records = ordered(day_records(OLD_DAYS[0]))
    records[2]["state_value"] = 7  # an int: Parquet's double column would give back 7.0
    with pytest.raises(ArchiveError, match="ARCHIVE_FORMAT=ndjson"):
        stage(tmp_path, "parquet", records)


def test_records_out_of_order_or_repeated_are_refused() -> None:
    records = ordered(day_records(OLD_DAYS[0], 3))
    digest = Digest()
    digest.add(records[0], b"")
    with pytest.raises(ArchiveError, match="out of order or repeated"):
        digest.add(records[0], b"")


def test_summaries_count_every_event_and_describe_only_numbers() -> None:
    records = day_records(OLD_DAYS[0], 30)
    found = {(a.entity_id, a.period): a for a in summaries.summarize(records) if a.period == "day"}
    temps = [r["state_value"] for r in records if r["entity_id"] == "sensor.outdoor_temp"]
    temp = found[("sensor.outdoor_temp", "day")]
    assert (temp.count, temp.value_count) == (10, 10)
    assert (temp.mean, temp.min, temp.max) == pytest.approx((sum(temps) / 10, min(temps), max(temps)))
    weather = found[("weather.home", "day")]
    assert (weather.count, weather.value_count, weather.mean) == (10, 0, None)
    assert sum(a.count for a in summaries.summarize(records) if a.period == "hour") == 30


def test_summaries_taken_batch_by_batch_equal_those_taken_at_once() -> None:
    records = day_records(OLD_DAYS[0], 30)
    summary = summaries.Summary()
    for i in range(0, 30, 4):
        summary.add(records[i:i + 4])
    assert summary.rows() == summaries.summarize(records)


def test_keys_are_date_partitioned() -> None:
    day = dt.date(2025, 1, 31)
    assert layout.manifest_key("home/", day) == "home/events/2025/01/31/manifest.json"
    assert layout.data_key("", day, "ab" * 32) == "events/2025/01/31/events-abababababababab.ndjson.gz"
    assert layout.data_key("", day, "ab" * 32, "parquet") == "events/2025/01/31/events-abababababababab.parquet"
    assert layout.day_of("home/events/2025/01/31/manifest.json") == day


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("17 3 * * *", dt.datetime(2026, 11, 23, 19, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 24, 3, 17, tzinfo=dt.UTC)),
    ("17 3 * * *", dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 3, 17, tzinfo=dt.UTC)),
    ("*/15 * * * *", dt.datetime(2026, 11, 23, 2, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 2, 15, tzinfo=dt.UTC)),
    ("0 4 * * 0", dt.datetime(2026, 11, 23, 2, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.UTC)),
    ("not a cron", dt.datetime(2026, 11, 23, tzinfo=dt.UTC), None),
])
def test_the_next_run_follows_the_schedule(expression: str, after: dt.datetime, expected: dt.datetime | None) -> None:
    assert schedule.next_run(expression, after) == expected


@pytest.fixture()
def archive_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("ARCHIVE_S3_ENDPOINT", "http://minio.openfaas:9000")
    monkeypatch.setenv("ARCHIVE_S3_BUCKET", "ha-archive")
    return monkeypatch


def test_settings_read_env_and_secrets_and_never_describe_credentials(archive_env: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    (tmp_path / "s3-access-key").write_text("AKIAEXAMPLE")
    archive_env.setenv("ARCHIVE_S3_SECRET_KEY", "from-env-secret")
    archive_env.setenv("ARCHIVE_PREFIX", "ha")
    archive_env.setenv("RAW_RETENTION_DAYS", "30")
    current = settings.load()
    assert (current.access_key, current.secret_key, current.prefix) == ("AKIAEXAMPLE", "from-env-secret", "ha/")
    assert current.raw_retention_days == 30 and current.summary_retention_days == 1825 and current.enabled
    assert (current.format, current.max_attempts, current.export_batch) == ("ndjson", 3, 1000)
    assert "AKIAEXAMPLE" not in str(current.describe()) and "from-env-secret" not in str(current.describe())


@pytest.mark.parametrize(("name", "value", "message"), [
    ("ARCHIVE_S3_ENDPOINT", "minio:9000", "ARCHIVE_S3_ENDPOINT must be a URL like http://minio:9000"),
    ("ARCHIVE_S3_ENDPOINT", "ftp://minio:9000", "ARCHIVE_S3_ENDPOINT must be a URL"),
    ("ARCHIVE_S3_ENDPOINT", "http://minio:9000/bucket", "ARCHIVE_S3_ENDPOINT must be scheme://host[:port] only"),
    ("ARCHIVE_S3_ENDPOINT", "http://minio:port", "ARCHIVE_S3_ENDPOINT must be a URL"),
    ("ARCHIVE_S3_BUCKET", "My_Bucket", "ARCHIVE_S3_BUCKET must be an S3 bucket name"),
    ("RAW_RETENTION_DAYS", "a year", "RAW_RETENTION_DAYS must be an integer, got 'a year'"),
    ("RAW_RETENTION_DAYS", "0", "RAW_RETENTION_DAYS must be at least 1, got 0"),
    ("SUMMARY_RETENTION_DAYS", "100", "SUMMARY_RETENTION_DAYS (100) must be at least RAW_RETENTION_DAYS (365)"),
    ("ARCHIVE_S3_MAX_ATTEMPTS", "0", "ARCHIVE_S3_MAX_ATTEMPTS must be between 1 and 20, got 0"),
    ("ARCHIVE_S3_READ_TIMEOUT_S", "nan", "ARCHIVE_S3_READ_TIMEOUT_S must be at least 1.0 seconds"),
    ("ARCHIVE_EXPORT_BATCH", "-5", "ARCHIVE_EXPORT_BATCH must be between 1 and 100000"),
    ("ARCHIVE_S3_PART_SIZE_MB", "1", "ARCHIVE_S3_PART_SIZE_MB must be between 5 and 5120"),
    ("ARCHIVE_FORMAT", "csv", "ARCHIVE_FORMAT must be one of ndjson, parquet, got 'csv'"),
    ("ARCHIVE_SCHEDULE", "daily", "ARCHIVE_SCHEDULE must be a 5-field cron expression"),
    ("ARCHIVE_PREFIX", "/home", "ARCHIVE_PREFIX must be a key prefix"),
    ("ARCHIVE_S3_CREATE_BUCKET", "maybe", "ARCHIVE_S3_CREATE_BUCKET must be true or false"),
    ("ARCHIVE_S3_SECRET_KEY", "only-the-secret", "the secret s3-access-key (or ARCHIVE_S3_ACCESS_KEY) is missing"),
])
def test_a_bad_setting_is_refused_with_its_name(archive_env: pytest.MonkeyPatch, name: str, value: str,
                                                message: str) -> None:
    archive_env.setenv(name, value)
    with pytest.raises(config.ConfigError) as refused:
        settings.load()
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(("given", "missing"), [("ARCHIVE_S3_BUCKET", "ARCHIVE_S3_ENDPOINT"),
                                                ("ARCHIVE_S3_ENDPOINT", "ARCHIVE_S3_BUCKET")])
def test_half_an_s3_configuration_is_refused_naming_what_is_missing(archive_env: pytest.MonkeyPatch, given: str,
                                                                     missing: str) -> None:
    archive_env.delenv(missing)
    with pytest.raises(config.ConfigError, match=f"^{missing} is empty while {given} is set"):
        settings.load()


@pytest.mark.parametrize(("endpoint", "bucket", "enabled"), [
    (None, None, False), ("http://minio:9000", "ha-archive", True),  # one without the other: refused, above
])
def test_the_archive_is_on_only_with_an_endpoint_and_a_bucket(monkeypatch: pytest.MonkeyPatch, endpoint: str | None,
                                                              bucket: str | None, enabled: bool) -> None:
    """Never a default: a guessed bucket on AWS's endpoint could be someone else's, and restore reads it."""
    for name, value in (("ARCHIVE_S3_ENDPOINT", endpoint), ("ARCHIVE_S3_BUCKET", bucket)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert settings.load().enabled is enabled


_FREED_BLOCKS = """
from pathlib import Path
from ingestor.archive import parquet

def rss_mb() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) // 1024

parquet._pa()
block = bytearray(8 << 20)
del block  # glibc would serve blocks of up to this size from its heap from now on
before = rss_mb()
blocks, pins = [], []
for _ in range(256):  # a row group's buffers, with small long-lived blocks between them
    blocks.append(bytearray(256 * 1024))
    pins.append(bytearray(1024))
grown = rss_mb() - before
del blocks
print(grown, grown - (rss_mb() - before))
"""


def test_a_process_that_loaded_pyarrow_gives_freed_large_blocks_back_to_the_system() -> None:
    """A day's row groups allocate and free column buffers group after group: freed, they must leave the
    process, or its resident memory grows with the day (fragmentation) past the archive's 200 MB bound."""
    done = subprocess.run([sys.executable, "-c", _FREED_BLOCKS], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(dayfile.__file__).parents[2])})
    grown, freed = map(int, done.stdout.split())
    assert grown >= 60 and freed >= grown - 4


def test_a_parquet_day_is_the_file_pyarrow_parquet_writes_with_the_same_options(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer is pyarrow.parquet's own, taken without pyarrow.parquet (whose filesystems cost memory):
    written again by pyarrow.parquet.ParquetWriter, group by group, the file is the same bytes."""
    import pyarrow.parquet as pq

    monkeypatch.setattr(parquet, "ROW_GROUP", 60)
    staged = stage(tmp_path, "parquet", ordered(enriched(day_records(OLD_DAYS[0], 200))), batch=50)
    file = pq.ParquetFile(staged.path)
    assert file.num_row_groups == 2
    schema = parquet.schema().with_metadata(file.schema_arrow.metadata)  # read back, a list's item is "element"
    again = tmp_path / "again.parquet"
    with pq.ParquetWriter(again, schema, **parquet.options(schema)) as writer:
        for group in range(file.num_row_groups):
            table = file.read_row_group(group).cast(schema)
            writer.write_table(table, row_group_size=table.num_rows)
    assert again.read_bytes() == Path(staged.path).read_bytes()


_NO_FILESYSTEMS = """
import sys
from ingestor.archive import parquet
from ingestor.archive.digest import Digest

with open(sys.argv[1], "wb") as out:
    writer = parquet.Writer(out)
    writer.write([{**%r}], [])
    writer.close()
print(sum(len(batch) for batch in parquet.read(sys.argv[1], 10, Digest())), "pyarrow.fs" in sys.modules,
      "pyarrow.compute" in sys.modules)
"""


def test_writing_and_reading_parquet_leaves_pyarrow_s_filesystems_and_compute_module_unloaded(tmp_path: Path) -> None:
    """pyarrow.fs brings the S3, GCS, Azure and HDFS filesystems and their libraries, which a staged file on
    local disk never needs, and pyarrow.compute a Python wrapper for each of its hundreds of functions, of
    which the archive calls three (README, Performance: ~5 and ~3 MB of an archive run)."""
    record = day_records(OLD_DAYS[0], 1)[0]
    done = subprocess.run([sys.executable, "-c", _NO_FILESYSTEMS % record, str(tmp_path / "day.parquet")],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(dayfile.__file__).parents[2])})
    assert done.stdout.split() == ["1", "False", "False"]


def test_enriched_records_read_back_exactly_from_parquet(tmp_path: Path) -> None:
    records = ordered(enriched(day_records(OLD_DAYS[0])))
    back = read_back(stage(tmp_path, "parquet", records, batch=5))
    assert [json.dumps(r) for r in back] == [json.dumps(r) for r in records]


def test_parquet_keeps_enrichment_ages_and_ulid_context_ids_out_of_its_text_columns(tmp_path: Path) -> None:
    """What differs in every event is stored as small numbers and bytes (layout 2), so the JSON repeats until
    the next fetch and compresses to almost nothing."""
    import pyarrow.parquet as pq

    records = ordered(enriched(day_records(OLD_DAYS[0])))
    table = pq.read_table(stage(tmp_path, "parquet", records).path).sort_by("time_fired")
    weather = [json.loads(w) for w in table.column("weather").to_pylist()]
    assert {w["age_s"] for w in weather} == {None, 12}  # 12: an integer, kept as it was
    assert table.column("weather_age").null_count == 2
    assert [json.loads(x)["air_quality"] for x in table.column("extra").to_pylist()].count(None) == 1
    assert table.column("context_id").to_pylist().count(None) == 47
    assert set(table.column("context_id_ms").to_pylist()) == {None, 0, -37, -74, -111, -148}


def test_a_parquet_object_of_the_first_layout_still_reads_back_exactly() -> None:
    """Written by the layout-1 writer (ages in the JSON, context ids as text): restore must keep reading it."""
    data = Path(__file__).parent / "data"
    manifest = json.loads((data / "parquet-layout1.manifest.json").read_text())
    records = [r for batch in dayfile.read(str(data / "parquet-layout1.parquet"), manifest, 5) for r in batch]
    assert len(records) == manifest["rows"] == 48
    assert records == ordered(enriched(day_records(OLD_DAYS[0])))
