"""ingestor.record: the event record defined once, its constructor and the check at write's input."""

from __future__ import annotations

from typing import Any

import pytest

from ingestor import record
from ingestor.context.model import Metric
from ingestor.context.samples import records as context_records
from ingestor.normalization import normalize_event
from ingestor.queries import schemas
from ingestor.sports.model import Game, Side
from ingestor.sports.samples import records as score_records
from tests.support.ha_events import many

DESIGN_ORDER = [  # docs/design.md, "Event record (after normalize)"
    "event_id", "event_type", "time_fired", "origin", "entity_id", "domain", "state", "old_state",
    "state_value", "unit", "device_class", "friendly_name", "attributes", "duration_in_state", "context",
    "device_id", "area_id", "device_manufacturer", "device_model", "weather", "data",
]
EVENT_ID = "0123456789abcdef0123456789abcdef"


def stored_record(**fields: Any) -> dict[str, Any]:
    return {**record.new(EVENT_ID, "state_changed", "2026-11-20T12:00:00.000001Z"), **fields}


def test_the_record_has_the_fields_of_the_design_in_its_order() -> None:
    assert list(record.FIELDS) == DESIGN_ORDER
    assert record.CONTEXT_SOURCES == ("weather", "air_quality", "carbon_intensity", "electricity_price")


def test_a_new_record_has_every_field_and_what_was_not_given_is_null() -> None:
    made = record.new(EVENT_ID, "call_service", "2026-11-20T12:00:00.000001Z", domain="light")
    assert list(made) == DESIGN_ORDER
    assert made["domain"] == "light" and made["attributes"] == {} and made["state"] is None
    assert made["context"] == {"id": None, "parent_id": None, "user_id": None}


class _Source:
    key, provider, refresh_s = "weather", "open-meteo", 900.0
    metrics = (Metric("temperature", "°C", "Outdoor temperature"),)


def test_every_producer_makes_records_of_exactly_the_records_fields() -> None:
    normalized = normalize_event(many(1)[0])
    context = context_records(_Source(), {"temperature": 7.5}, "2026-11-20T12:00:00.000000Z")  # type: ignore[arg-type]
    game = Game("401", "nfl", "live", Side("SEA", "Seahawks", 3), Side("SF", "49ers", 7), name="SF at SEA")
    scores = score_records(game, "2026-11-20T12:00:00.000000Z")
    for made in [normalized, *context, *scores]:
        assert list(made) == DESIGN_ORDER and record.problem(made) is None


def test_a_record_with_a_field_the_record_does_not_have_is_refused_naming_it() -> None:
    assert record.problem(stored_record(colour="red")) == "'colour': not a field of the event record"


def test_the_context_sources_values_are_fields_of_an_enriched_record() -> None:
    enriched = stored_record(weather={"temperature": 3.5}, air_quality={"aqi": 12}, carbon_intensity=None,
                             electricity_price={"price": 0.2})
    assert record.problem(enriched) is None
    assert record.problem(stored_record(air_quality=[1, 2])) == "air_quality: expected an object or null"


@pytest.mark.parametrize(("fields", "reason"), [
    ({"event_id": "ABC"}, "event_id: expected 32 lowercase hex characters"),
    ({"time_fired": "yesterday"}, "time_fired: 'yesterday' is not an ISO 8601 timestamp"),
    ({"state": 21}, "state: expected a string or null"),
    ({"state_value": True}, "state_value: expected a number or null"),
    ({"context": "ctx"}, "context: expected an object or null"),
])
def test_a_record_a_store_cannot_take_is_refused_with_the_field_and_the_problem(fields: dict[str, Any],
                                                                               reason: str) -> None:
    assert record.problem(stored_record(**fields)) == reason


@pytest.mark.parametrize(("fields", "reason"), [
    ({"friendly_name": "Küche", "unit": "°C"}, None),
    ({"entity_id": "sensor." + "e" * 200, "domain": "d" * 200}, None),  # long together, each within the limit
    ({"friendly_name": "Küche", "device_model": "m\x00"}, "device_model: contains a NUL character, which the store "
                                                          "cannot keep"),
    ({"context": {"id": "c1", "parent_id": 5, "user_id": None}}, "context.parent_id: expected a string or null"),
    ({"context": {"id": "c1", "parent_id": "é" * 65, "user_id": None}},
     "context.parent_id: 65 characters, at most 64 are kept (refused, not shortened)"),
])
def test_texts_that_are_not_all_short_ascii_are_checked_field_by_field(fields: dict[str, Any],
                                                                      reason: str | None) -> None:
    assert record.problem(stored_record(**fields)) == reason


def test_the_query_apis_event_schema_names_every_field_of_the_record_then_its_labels() -> None:
    assert list(schemas.EVENT["properties"]) == [*record.FIELDS, *record.OPTIONAL_FIELDS, *schemas.LABELS]
