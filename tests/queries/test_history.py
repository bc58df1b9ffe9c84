"""GET /entities/{entity_id}/history: the state timeline and numeric series of one entity."""

from __future__ import annotations

import datetime as dt

from tests.queries.conftest import Served
from tests.queries.model import matching


def window(api: Served) -> dict[str, str]:
    return {"start": api.home.t0.isoformat(), "end": (api.home.t0 + dt.timedelta(days=2)).isoformat()}


def test_a_numeric_sensor_has_a_timeline_and_a_series(api: Served) -> None:
    body = api.ok("/entities/sensor.living_temperature/history", bucket="1h", **window(api))
    changes = list(reversed(matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=2),
                                     entity_id="sensor.living_temperature")))
    assert body["numeric"] is True and body["friendly_name"] == "Living Temperature"
    assert [s["start"] for s in body["timeline"]] == [r["time_fired"] for r in changes]
    assert [s["state"] for s in body["timeline"]] == [r["state"] for r in changes]
    assert body["changes"] == len(changes)
    assert all(s["duration_s"] == 600 for s in body["timeline"][:-1])
    assert body["timeline"][-1]["end"] == window(api)["end"].replace("+00:00", ".000000Z")
    assert len(body["series"]) == 48 and sum(p["count"] for p in body["series"]) == len(changes)
    assert body["bucket_s"] == 3600 and body["truncated"] is False


def test_the_unit_is_given_as_ha_displays_it_and_by_its_normalized_name(api: Served) -> None:
    body = api.ok("/entities/sensor.living_temperature/history", **window(api))
    assert (body["unit_of_measurement"], body["unit"]) == ("°C", "celsius")
    assert (body["device_class"], body["state_class"]) == ("temperature", None)


def test_the_entity_s_area_and_device_are_named(api: Served) -> None:
    body = api.ok("/entities/sensor.kitchen_plug_power/history", **window(api))
    assert (body["area_id"], body["area_name"]) == ("kitchen", "Kitchen")
    assert (body["device_id"], body["device_name"]) == ("dev_plug", "Kitchen Plug")


def test_a_sensor_with_a_unit_is_numeric_even_when_its_range_holds_no_number(api: Served) -> None:
    """Only its change to unavailable in this half hour: still a sensor in watts, charted as a line (a gap)."""
    start = api.home.t0 + dt.timedelta(hours=10)
    body = api.ok("/entities/sensor.kitchen_plug_power/history", start=start.isoformat(),
                  end=(start + dt.timedelta(minutes=30)).isoformat())
    assert [s["state"] for s in body["timeline"]] == ["12.5", "unavailable"]
    assert body["numeric"] is True and body["unit_of_measurement"] == "W"


def test_a_light_is_not_numeric_and_its_first_segment_starts_before_its_first_change(api: Served) -> None:
    start = api.home.t0 + dt.timedelta(hours=1)
    body = api.ok("/entities/light.kitchen/history", start=start.isoformat(), end=window(api)["end"])
    assert body["numeric"] is False
    first = body["timeline"][0]
    changes = list(reversed(matching(api.home.records, start, entity_id="light.kitchen")))
    assert first["end"] == changes[0]["time_fired"] and first["state"] == changes[0]["old_state"]
    assert first["start"] == start.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert body["changes"] == len(body["timeline"]) - 1  # that first segment began before the range


def test_the_limit_keeps_the_newest_changes_and_says_truncated(api: Served) -> None:
    body = api.ok("/entities/sensor.living_temperature/history", limit=10, **window(api))
    newest = matching(api.home.records, api.home.t0, entity_id="sensor.living_temperature")[:10]
    assert body["truncated"] is True
    assert [s["start"] for s in body["timeline"]][-10:] == [r["time_fired"] for r in reversed(newest)]


def test_a_known_entity_without_events_in_the_range_is_empty(api: Served) -> None:
    body = api.ok("/entities/sensor.attic_temperature/history")
    assert (body["timeline"], body["series"], body["unit_of_measurement"], body["unit"]) == ([], [], "°C", "celsius")


def test_an_unknown_entity_is_a_404(api: Served) -> None:
    reply = api.get("/entities/sensor.nope' OR '1'='1/history")
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"


def test_a_huge_range_chooses_a_coarse_bucket(api: Served) -> None:
    body = api.ok("/entities/sensor.living_temperature/history", start="1970-01-01T00:00:00Z",
                  end="2100-01-01T00:00:00Z")
    assert body["bucket_s"] >= 86400 and sum(p["count"] for p in body["series"]) == 288


def test_the_history_limit_is_bounded(api: Served) -> None:
    reply = api.get("/entities/light.kitchen/history", limit=10001)
    assert reply.status == 400 and reply.json()["error"]["message"].startswith("limit:")
