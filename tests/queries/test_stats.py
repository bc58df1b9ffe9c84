"""GET /stats/summary and /stats/trend, on every backend."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from ingestor.queries import stats
from ingestor.timeutil import parse_timestamp
from tests.queries.conftest import Served
from tests.queries.model import counts, matching, whole_16_days


def window(api: Served) -> tuple[dt.datetime, dt.datetime]:
    return api.home.t0, api.home.t0 + dt.timedelta(days=2)


def test_summary_totals_rate_and_counts(api: Served) -> None:
    start, end = window(api)
    chosen = matching(api.home.records, start, end)
    body = api.ok("/stats/summary", start=start.isoformat(), end=end.isoformat(), top=3)
    assert body["total"] == len(chosen)
    assert body["rate_per_min"] == pytest.approx(len(chosen) / (48 * 60), rel=1e-5)
    for field, key in (("by_domain", "domain"), ("by_event_type", "event_type"), ("by_area", "area_id")):
        assert {c["key"]: c["count"] for c in body[field]} == dict(counts(chosen, key)), field
    top = counts(chosen, "entity_id").most_common(3)
    assert [(c["key"], c["count"]) for c in body["top_entities"]] == top
    assert body["start"] == start.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def test_summary_names_its_entities_and_areas(api: Served) -> None:
    start, end = window(api)
    body = api.ok("/stats/summary", start=start.isoformat(), end=end.isoformat(), top=20)
    entities = {c["key"]: c["name"] for c in body["top_entities"]}
    assert entities["sensor.living_temperature"] == "Living Temperature"
    assert entities["counter.loop"] is None  # an entity the metadata DB does not know
    assert {c["key"]: c["name"] for c in body["by_area"]} == {"living_room": "Living Room", "kitchen": "Kitchen",
                                                             "bedroom": "Bedroom", None: None}


def test_summary_honours_filters(api: Served) -> None:
    start, end = window(api)
    body = api.ok("/stats/summary", start=start.isoformat(), end=end.isoformat(), area_id="kitchen")
    assert body["total"] == len(matching(api.home.records, start, end, area_id="kitchen"))
    assert {c["key"] for c in body["by_area"]} == {"kitchen"}


def test_summary_of_an_empty_range_is_zeros(api: Served) -> None:
    body = api.ok("/stats/summary", start="2001-01-01T00:00:00Z", end="2001-01-02T00:00:00Z")
    assert (body["total"], body["rate_per_min"], body["by_domain"], body["top_entities"]) == (0, 0, [], [])


def expected_trend(api: Served, start: dt.datetime, end: dt.datetime, width: int, **f: str) -> dict[str, list]:
    """Every bucket of [start, end) with the state values of the matching records in it (empty: none)."""
    first = int(start.timestamp()) // width * width
    buckets: dict[int, list] = {t: [] for t in range(first, math.ceil(end.timestamp()), width)}
    for r in matching(api.home.records, start, end, **f):
        buckets[int(parse_timestamp(r["time_fired"]).timestamp()) // width * width].append(r["state_value"])
    return {dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z"): v
            for t, v in sorted(buckets.items())}


@pytest.mark.parametrize(("bucket", "width"), [("5m", 300), ("1h", 3600), ("6h", 21600), ("1d", 86400)])
def test_trend_counts_and_values_per_bucket(api: Served, bucket: str, width: int) -> None:
    start, end = window(api)
    body = api.ok("/stats/trend", start=start.isoformat(), end=end.isoformat(), bucket=bucket,
                  entity_id="sensor.living_temperature")
    expected = expected_trend(api, start, end, width, entity_id="sensor.living_temperature")
    assert body["bucket_s"] == width and body["values"] is True
    assert [p["t"] for p in body["points"]] == list(expected)
    for p in body["points"]:
        values = expected[p["t"]]
        assert p["count"] == len(values)
        if values:
            assert (p["min"], p["max"]) == (min(values), max(values))
            assert p["mean"] == pytest.approx(sum(values) / len(values))
        else:
            assert (p["mean"], p["min"], p["max"]) == (None, None, None)


def test_a_trend_has_every_bucket_of_the_range_counting_zero_where_nothing_happened(api: Served) -> None:
    start, end = window(api)
    body = api.ok("/stats/trend", start=start.isoformat(), end=end.isoformat(), bucket="1h", event_type="call_service")
    expected = expected_trend(api, start, end, 3600, event_type="call_service")
    assert [(p["t"], p["count"]) for p in body["points"]] == [(t, len(v)) for t, v in expected.items()]
    assert len(body["points"]) == 48 and 0 < sum(p["count"] for p in body["points"]) < 48


def test_a_trend_s_rate_is_its_buckets_sum_over_the_range_as_in_the_summary(api: Served) -> None:
    start, end = api.home.t0 + dt.timedelta(minutes=7), api.home.t0 + dt.timedelta(hours=30)
    query = {"start": start.isoformat(), "end": end.isoformat()}
    body = api.ok("/stats/trend", bucket="1h", **query)
    total = sum(p["count"] for p in body["points"])
    assert body["total"] == total == len(matching(api.home.records, start, end))
    assert body["rate_per_min"] == pytest.approx(total / ((end - start).total_seconds() / 60), rel=1e-5)
    assert body["rate_per_min"] == api.ok("/stats/summary", **query)["rate_per_min"]


def test_a_trend_of_several_entities_gives_no_values_since_they_mix_units(api: Served) -> None:
    """°C, %, W and on/off in one selection: no mean of them is a number of anything."""
    start, end = window(api)
    body = api.ok("/stats/trend", start=start.isoformat(), end=end.isoformat(), bucket="1h")
    assert body["values"] is False and sum(p["count"] for p in body["points"]) == len(matching(api.home.records,
                                                                                                start, end))
    assert all((p["mean"], p["min"], p["max"]) == (None, None, None) for p in body["points"])
    one_area = api.ok("/stats/trend", start=start.isoformat(), end=end.isoformat(), bucket="1h", area_id="kitchen")
    assert one_area["values"] is False and all(p["mean"] is None for p in one_area["points"])


def test_trend_chooses_a_bucket_that_keeps_2000_points_at_most(api: Served) -> None:
    body = api.ok("/stats/trend", start="-1h")
    assert body["bucket_s"] == 300
    body = api.ok("/stats/trend", start="-30d")
    assert body["bucket_s"] == 1800
    body = api.ok("/stats/trend", start="1970-01-01T00:00:00Z", end="2100-01-01T00:00:00Z")
    span_s = (dt.datetime(2100, 1, 1, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()
    assert body["bucket_s"] % 86400 == 0 and math.ceil(span_s / body["bucket_s"]) <= 2000
    assert sum(p["count"] for p in body["points"]) == len(api.home.records)


def test_an_explicit_bucket_over_2000_points_is_a_400_naming_the_limit(api: Served) -> None:
    reply = api.get("/stats/trend", start="-30d", bucket="5m")
    assert reply.status == 400
    assert reply.json()["error"]["message"].startswith("bucket:") and "2000" in reply.json()["error"]["message"]


def test_an_unknown_bucket_is_a_400(api: Served) -> None:
    reply = api.get("/stats/trend", bucket="7m")
    assert reply.status == 400 and reply.json()["error"]["message"].startswith("bucket:")


ROLLUP_TIERS = {"1d", "1h"}


@pytest.mark.parametrize(("path", "query"), [("/stats/summary", {}), ("/stats/trend", {"bucket": "1h"}),
                                             ("/analytics/areas", {"bucket": "1h"})])
def test_aggregates_over_whole_hours_read_the_rollups_and_say_so(api: Served, path: str, query: dict) -> None:
    start, end = window(api)
    body = api.ok(path, start=start.isoformat(), end=end.isoformat(), **query)
    assert set(body["resolution"].split("+")) <= ROLLUP_TIERS, body["resolution"]


def test_the_tiers_of_reads_together_are_named_coarsest_first_the_durations_16_day_ones_included() -> None:
    assert stats.resolution({"resolution": "1d+1h+raw"}, {"resolution": "16d+1d"}, {}) == "16d+1d+1h+raw"


def test_a_summary_over_16_day_buckets_counts_every_event_and_sql_reads_them(api: Served) -> None:
    start, end = whole_16_days(api.home.t0)
    chosen = matching(api.home.records, start, end)
    body = api.ok("/stats/summary", start=start.isoformat(), end=end.isoformat(), top=3)
    assert body["total"] == len(chosen) > 0
    for field, key in (("by_domain", "domain"), ("by_event_type", "event_type"), ("by_area", "area_id")):
        assert {c["key"]: c["count"] for c in body[field]} == dict(counts(chosen, key)), field
    assert [(c["key"], c["count"]) for c in body["top_entities"]] == counts(chosen, "entity_id").most_common(3)
    if api.backend == "sqlite":
        assert body["resolution"] == "16d"


def test_a_range_cut_mid_bucket_reads_raw_events_for_the_cut_part(api: Served) -> None:
    start, end = window(api)
    body = api.ok("/stats/summary", start=(start + dt.timedelta(minutes=7, seconds=30)).isoformat(),
                  end=end.isoformat())
    assert "raw" in body["resolution"].split("+")
