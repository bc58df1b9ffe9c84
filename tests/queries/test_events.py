"""GET /events: recent events and search, on every backend."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.queries import dataset
from tests.queries.conftest import Served
from tests.queries.model import matching


def ids(items: list[dict]) -> list[str]:
    return [i["event_id"] for i in items]


def span(api: Served) -> dict[str, str]:
    return {"start": api.home.t0.isoformat(), "end": (api.home.t0 + dt.timedelta(days=3)).isoformat()}


def test_default_range_is_the_last_24_hours_newest_first(api: Served) -> None:
    now = dt.datetime.now(dt.UTC)
    expected = matching(api.home.records, start=now - dt.timedelta(hours=24))[:100]
    body = api.ok("/events")
    assert ids(body["items"]) == ids(expected)
    assert body["next_cursor"] is not None


def test_cursor_pages_cover_every_matching_event_once(api: Served) -> None:
    expected = matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=3), domain="sensor")
    seen, cursor = [], None
    while True:
        body = api.ok("/events", domain="sensor", limit=97, cursor=cursor, **span(api))
        seen += ids(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids(expected)


@pytest.mark.parametrize("filters", [
    {"entity_id": "light.kitchen"}, {"domain": "switch"}, {"event_type": "call_service"},
    {"device_id": "dev_plug"}, {"area_id": "kitchen"}, {"state": "unavailable"},
    {"area_id": "kitchen", "domain": "sensor"},
])
def test_each_filter_returns_exactly_the_matching_events(api: Served, filters: dict[str, str]) -> None:
    expected = matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=3), **filters)
    assert expected
    assert ids(api.ok("/events", limit=1000, **filters, **span(api))["items"]) == ids(expected)


def test_events_carry_their_area_s_and_device_s_names_and_the_unit_as_ha_displays_it(api: Served) -> None:
    items = api.ok("/events", entity_id="sensor.kitchen_plug_power", limit=1, **span(api))["items"]
    assert [(e["area_id"], e["area_name"], e["device_name"]) for e in items] == [("kitchen", "Kitchen", "Kitchen Plug")]
    assert (items[0]["unit"], items[0]["unit_of_measurement"]) == ("watt", "W")
    outdoor = api.ok("/events", entity_id="sensor.outdoor_temperature", limit=1, **span(api))["items"][0]
    assert (outdoor["area_name"], outdoor["device_name"], outdoor["unit_of_measurement"]) == (None, None, "°C")
    assert (items[0]["entity_name"], outdoor["entity_name"]) == ("Kitchen Plug Power", "Outdoor Temperature")


@pytest.mark.parametrize("q", ["kitchen plug", "50% off_sale", "%", "_", "'q' \"dq\" \\ back", "DROP TABLE",
                               "/.*/ (?i)", "ünïcødé 🏠", "47%_x", "UNAVAILABLE"])
def test_text_search_is_literal_and_case_insensitive(api: Served, q: str) -> None:
    expected = matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=3), q=q)
    assert expected, q
    assert ids(api.ok("/events", q=q, limit=1000, **span(api))["items"]) == ids(expected)


@pytest.mark.parametrize("value", ["' OR '1'='1", "\" OR 1=1 --", "light.kitchen' OR entity_id =~ /.*/",
                                   ".*", "\\", "x" * 256, "DROP MEASUREMENT state_changed", "🏠", "%", "_"])
def test_hostile_filter_values_match_nothing_and_harm_nothing(api: Served, value: str) -> None:
    for name in ("entity_id", "domain", "event_type", "device_id", "area_id", "state"):
        body = api.ok("/events", **{name: value}, **span(api))
        assert body == {"items": [], "next_cursor": None}, name
    assert len(api.ok("/events", limit=1000, **span(api))["items"]) == len(matching(api.home.records, api.home.t0))


def test_a_huge_range_answers_one_page(api: Served) -> None:
    body = api.ok("/events", start="1970-01-01T00:00:00Z", end="2100-01-01T00:00:00Z", limit=1000)
    assert ids(body["items"]) == ids(matching(api.home.records)[:1000])


def test_an_empty_range_is_an_empty_page(api: Served) -> None:
    assert api.ok("/events", start="2001-01-01T00:00:00Z", end="2001-01-02T00:00:00Z") == \
        {"items": [], "next_cursor": None}


@pytest.mark.parametrize(("query", "named"), [
    ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"start": "yesterday"}, "start"), ({"end": "2026-13-01T00:00:00Z"}, "end"),
    ({"start": "-1h", "end": "-2h"}, "end"), ({"cursor": "not-a-cursor"}, "cursor"),
    ({"entity_id": "x" * 257}, "entity_id"), ({"q": "a\x00b"}, "q"), ({"start": "-99999999999d"}, "start"),
])
def test_bad_parameters_are_400s_naming_the_parameter(api: Served, query: dict[str, str], named: str) -> None:
    reply = api.get("/events", **query)
    assert reply.status == 400, reply.body
    assert reply.json()["error"]["message"].startswith(f"{named}:")


def test_an_event_reads_back_whole(api: Served) -> None:
    record = next(r for r in api.home.records if r["event_type"] == "call_service")
    (back,) = api.ok("/events", event_type="call_service", **span(api))["items"]
    assert back["data"] == record["data"]
    assert back["context"] == record["context"]
    assert back["time_fired"] == record["time_fired"]


def test_hostile_text_reads_back_exactly(api: Served) -> None:
    (back,) = api.ok("/events", q="DROP TABLE", **span(api))["items"]
    assert back["friendly_name"] == dataset.HOSTILE_NAME
