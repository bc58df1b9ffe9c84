"""parse_timestamp / format_timestamp: what HA sends in, what the store keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingestor.timeutil import canonical, format_timestamp, parse_timestamp


def test_parses_ha_timestamp_with_utc_offset_to_aware_utc() -> None:
    parsed = parse_timestamp("2026-11-22T11:27:31.769542+00:00")
    assert parsed == datetime(2026, 11, 22, 11, 27, 31, 769542, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_parses_z_suffix_as_utc() -> None:
    expected = datetime(2026, 11, 22, 11, 27, 31, 123456, tzinfo=UTC)
    assert parse_timestamp("2026-11-22T11:27:31.123456Z") == expected


def test_converts_other_offsets_to_utc() -> None:
    parsed = parse_timestamp("2026-11-22T13:27:31+02:00")
    assert parsed == datetime(2026, 11, 22, 11, 27, 31, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)


def test_parses_timestamp_without_fraction() -> None:
    assert parse_timestamp("2026-11-22T11:27:31+00:00") == datetime(2026, 11, 22, 11, 27, 31, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2026-11-22T11:27:31.769542", "2026-11-22T11:27:31", "2026-11-22"])
def test_rejects_naive_timestamps(value: str) -> None:
    with pytest.raises(ValueError, match="has no timezone offset"):
        parse_timestamp(value)


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-22T25:00:00Z",
                                   " 2026-11-22T11:27:31Z"])
def test_rejects_strings_that_are_not_iso_8601(value: str) -> None:
    with pytest.raises(ValueError, match="is not an ISO 8601 timestamp"):
        parse_timestamp(value)


@pytest.mark.parametrize("value", [None, 1763810851, 1763810851.5, b"2026-11-22T11:27:31Z",
                                   ["2026-11-22T11:27:31Z"], datetime(2026, 11, 22, tzinfo=UTC)])
def test_rejects_non_strings_naming_the_type(value: object) -> None:
    with pytest.raises(ValueError, match=f"got {type(value).__name__}"):
        parse_timestamp(value)


def test_error_for_a_huge_string_quotes_only_its_start() -> None:
    with pytest.raises(ValueError) as caught:
        parse_timestamp("9" * 1_000_000)
    assert len(str(caught.value)) < 120
    assert "1000000 characters" in str(caught.value)


def test_rejects_a_time_that_overflows_when_moved_to_utc() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_timestamp("0001-01-01T00:00:00+01:00")


def test_formats_utc_with_microseconds_and_z() -> None:
    moment = datetime(2026, 11, 22, 11, 27, 31, 123456, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-11-22T11:27:31.123456Z"


def test_formats_microseconds_even_when_zero() -> None:
    assert format_timestamp(datetime(2026, 11, 22, 11, 27, 31, tzinfo=UTC)) == "2026-11-22T11:27:31.000000Z"


def test_formats_other_zones_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 11, 22, 13, 27, 31, 5, tzinfo=plus_two)
    assert format_timestamp(moment) == "2026-11-22T11:27:31.000005Z"


def test_format_pads_early_years_to_four_digits() -> None:
    assert format_timestamp(datetime(5, 1, 2, tzinfo=UTC)) == "0005-01-02T00:00:00.000000Z"


def test_format_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2026, 11, 22, 11, 27, 31))


def test_parse_and_format_round_trip() -> None:
    text = "2026-11-22T11:27:31.769542Z"
    assert format_timestamp(parse_timestamp(text)) == text


def test_formatted_strings_sort_in_time_order() -> None:
    times = [
        datetime(5, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 22, 11, 27, 31, tzinfo=UTC),
        datetime(2026, 11, 22, 11, 27, 31, 1, tzinfo=UTC),
        datetime(2026, 11, 22, 11, 27, 31, 100000, tzinfo=UTC),
        datetime(2026, 11, 22, 13, 0, tzinfo=timezone(timedelta(hours=2))),  # 11:00 UTC
        datetime(2026, 11, 22, 12, 0, tzinfo=timezone(timedelta(hours=-5))),  # 17:00 UTC
    ]
    texts = [format_timestamp(t) for t in times]
    assert sorted(texts) == [format_timestamp(t) for t in sorted(times)]
    assert len({len(t) for t in texts}) == 1


def test_canonical_is_the_stored_form_of_any_offset() -> None:
    assert canonical("2026-11-22T12:27:31.768+01:00") == "2026-11-22T11:27:31.768000Z"
    assert canonical("2026-11-22T11:27:31Z") == canonical("2026-11-22T11:27:31.000000+00:00")
    with pytest.raises(ValueError, match="no timezone offset"):
        canonical("2026-11-22T11:27:31")


@pytest.mark.parametrize("value", ["2026-11-22T11:27:31.768000+00:00", "0999-01-01T00:00:00.000001+00:00",
                                   "2024-W01-1T00:00:00.000000+00:00", "2024-01-01t01:00:00.000000+00:00",
                                   "2024-01-01 01:00:00.000000+00:00", "2024-01-01T01:00:00,000000+00:00",
                                   "2024-01-01T01:00:00.000000-00:00"])
def test_canonical_of_ha_times_and_look_alikes_is_the_formatted_instant(value: str) -> None:
    assert canonical(value) == format_timestamp(parse_timestamp(value))


@pytest.mark.parametrize("value", ["2026-02-30T11:27:31.768000+00:00", "2026-11-22T24:00:00.000000+00:00"])
def test_canonical_refuses_text_in_ha_shape_that_is_no_instant(value: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        canonical(value)
