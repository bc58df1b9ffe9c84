"""weather-enrich's handler: each record with the latest context values context-poll cached, marked with their age."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingestor import subjects
from ingestor.context import cache
from ingestor.normalization import normalize_event
from tests.functions.pipeline import batch, published
from tests.support.function import invoke, load_handler
from tests.support.ha_events import many
from tests.support.jetstream import JetStreamClient


def test_records_carry_the_cached_weather_with_its_age(process: Path, stream: JetStreamClient) -> None:
    handler = load_handler("weather-enrich")
    fetched = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)).isoformat()
    cache.put("weather", {"values": {"temperature": 7.5}, "fetched_at": fetched, "provider": "open-meteo",
                          "ttl_s": 900})
    batch_id, body = batch([normalize_event(e) for e in many(2)], prefix="normalized")
    assert invoke(handler, body=body)[0] == 200
    weather = [r["weather"] for r in published(stream, subjects.ENRICHED, f"{batch_id}:weather-enrich")]
    assert [(w["temperature"], w["provider"], w["stale"]) for w in weather] == [(7.5, "open-meteo", False)] * 2
    assert all(110 <= w["age_s"] <= 300 for w in weather)


def test_what_is_not_a_record_at_all_is_refused(process: Path) -> None:
    _, body = batch(["not a record"], prefix="normalized")
    status, answer = invoke(load_handler("weather-enrich"), body=body)
    assert status == 422 and answer["error"]["details"] == [{"index": 0, "reason": "record: expected an object"}]
