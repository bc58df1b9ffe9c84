"""The pieces without servers: day files, summaries, the schedule, the configuration."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest

from ingestor import config
from ingestor.archive import dayfile, layout, schedule, settings, summaries
from tests.archive.conftest import OLD_DAYS, day_records


def test_the_same_records_give_the_same_bytes() -> None:
    records = sorted(day_records(OLD_DAYS[0]), key=dayfile.sort_key)
    one, two = dayfile.encode(OLD_DAYS[0], records), dayfile.encode(OLD_DAYS[0], records)
    assert one.body == two.body and one.sha256_gzip == two.sha256_gzip
    assert dayfile.decode(one.body) == records
    assert gzip.decompress(one.body).count(b"\n") == one.rows == 48


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


def test_keys_are_date_partitioned() -> None:
    day = dt.date(2025, 1, 31)
    assert layout.manifest_key("home/", day) == "home/events/2025/01/31/manifest.json"
    assert layout.data_key("", day, "ab" * 32) == "events/2025/01/31/events-abababababababab.ndjson.gz"
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


def test_settings_read_env_and_secrets_and_never_describe_credentials(
        monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    secrets = tmp_path  # type: ignore[assignment]
    (secrets / "s3-access-key").write_text("AKIAEXAMPLE")  # type: ignore[operator]
    monkeypatch.setenv("SECRETS_DIR", str(secrets))
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", "from-env-secret")
    monkeypatch.setenv("ARCHIVE_PREFIX", "ha")
    monkeypatch.setenv("RAW_RETENTION_DAYS", "30")
    current = settings.load()
    assert (current.access_key, current.secret_key, current.prefix) == ("AKIAEXAMPLE", "from-env-secret", "ha/")
    assert current.raw_retention_days == 30 and current.summary_retention_days == 1825
    assert "AKIAEXAMPLE" not in str(current.describe()) and "from-env-secret" not in str(current.describe())


def test_a_summary_window_shorter_than_the_raw_window_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAW_RETENTION_DAYS", "400")
    monkeypatch.setenv("SUMMARY_RETENTION_DAYS", "100")
    with pytest.raises(config.ConfigError, match="SUMMARY_RETENTION_DAYS"):
        settings.load()


@pytest.mark.parametrize(("endpoint", "bucket", "enabled"), [
    (None, None, False), ("http://minio:9000", None, False), (None, "ha-archive", False),
    ("http://minio:9000", "ha-archive", True),
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
