"""InfluxQL built from user values: literals InfluxDB's scanner reads back exactly, and trace windows."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestor.store import influxql


@pytest.mark.parametrize(("value", "literal"), [
    ("plain", "'plain'"), ("it's", "'it\\'s'"), ("back\\slash", "'back\\\\slash'"), ("two\nlines", "'two\\nlines'"),
])
def test_string_literals_escape_quotes_backslashes_and_newlines(value: str, literal: str) -> None:
    assert influxql.string(value) == literal


def test_a_carriage_return_cannot_be_expressed_and_is_refused() -> None:
    with pytest.raises(ValueError, match="carriage return"):
        influxql.string("a\rb")


@pytest.mark.parametrize(("name", "quoted"), [("state_changed", '"state_changed"'), ('a"b', '"a\\"b"'),
                                              ("back\\slash", '"back\\\\slash"')])
def test_identifiers_escape_double_quotes_and_backslashes(name: str, quoted: str) -> None:
    assert influxql.identifier(name) == quoted


@pytest.mark.parametrize(("value", "regex"), [
    ("a.b", "/(?i)a\\.b/"), ("/", "/(?i)\\x2f/"), ("end\\", "/(?i)end\\x5c/"), ("x\ny", "/(?i)x\\ny/"),
])
def test_regexes_match_the_value_literally_and_never_end_in_a_backslash(value: str, regex: str) -> None:
    assert influxql.regex_contains(value) == regex


def test_a_ulid_context_id_gives_its_creation_time() -> None:
    assert influxql.ulid_time("01M81G5SXSR9VEPMR50TY4GN0R") == dt.datetime(2026, 11, 22, 11, 27, 31, 769000,
                                                                             tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["", "not-a-ulid", "x' OR '1'='1", "0" * 26, "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"])
def test_anything_else_has_no_time(value: str) -> None:
    assert influxql.ulid_time(value) is None
