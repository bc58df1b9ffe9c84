"""GET /analytics/areas, /analytics/durations and /analytics/reliability, on every backend."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict

import pytest

from ingestor.httpapi import iso
from ingestor.queries import analytics
from ingestor.queries.params import Range
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter, StoreUnavailable
from ingestor.timeutil import parse_timestamp
from tests.queries import dataset
from tests.queries.conftest import Served
from tests.queries.model import kept_state, matching, whole_16_days

HOUR = dt.timedelta(hours=1)


def window(api: Served) -> dict[str, str]:
    return {"start": api.home.t0.isoformat(), "end": (api.home.t0 + dt.timedelta(days=2)).isoformat()}


def test_area_heatmap_counts_every_event_once_per_area_and_bucket(api: Served) -> None:
    body = api.ok("/analytics/areas", bucket="6h", **window(api))
    chosen = matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=2))
    expected: Counter[tuple[str | None, int]] = Counter()
    for r in chosen:
        expected[(r["area_id"], int(parse_timestamp(r["time_fired"]).timestamp()) // 21600 * 21600)] += 1
    first = int(api.home.t0.timestamp()) // 21600 * 21600
    assert body["bucket_s"] == 21600
    assert body["buckets"][0] == dt.datetime.fromtimestamp(first, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert len(body["buckets"]) == -(-(int(api.home.t0.timestamp()) + 2 * 86400 - first) // 21600)
    got: Counter[tuple[str | None, int]] = Counter()
    for area, bucket, n in body["cells"]:
        t = int(parse_timestamp(body["buckets"][bucket]).timestamp())
        got[(body["areas"][area]["area_id"], t)] += n
    assert got == expected
    names = {a["area_id"]: a["name"] for a in body["areas"]}
    assert names == {"living_room": "Living Room", "kitchen": "Kitchen", "bedroom": "Bedroom", None: "(no area)"}
    assert [a["count"] for a in body["areas"]] == sorted((a["count"] for a in body["areas"]), reverse=True)


def test_area_heatmap_filters_by_domain(api: Served) -> None:
    body = api.ok("/analytics/areas", bucket="1d", domain="light", **window(api))
    assert [(a["area_id"], a["count"]) for a in body["areas"]] == \
        [("kitchen", len(matching(api.home.records, api.home.t0, domain="light")))]


def test_area_heatmap_of_an_empty_range(api: Served) -> None:
    body = api.ok("/analytics/areas", start="2001-01-01T00:00:00Z", end="2001-01-02T00:00:00Z", bucket="1h")
    assert (body["areas"], body["cells"], len(body["buckets"])) == ([], [], 24)


def test_area_heatmap_buckets_are_hourly_by_default(api: Served) -> None:
    assert api.ok("/analytics/areas")["bucket_s"] == 3600


def test_area_heatmap_default_buckets_widen_to_at_most_400_columns(api: Served) -> None:
    month, year = api.ok("/analytics/areas", start="-30d"), api.ok("/analytics/areas", start="-365d")
    assert (month["bucket_s"], year["bucket_s"]) == (21600, 86400)
    assert len(month["buckets"]) <= analytics.HEAT_COLUMNS and len(year["buckets"]) <= analytics.HEAT_COLUMNS


def test_area_heatmap_explicit_bucket_may_give_up_to_2000_buckets(api: Served) -> None:
    body = api.ok("/analytics/areas", start="-30d", bucket="1h")
    assert body["bucket_s"] == 3600 and len(body["buckets"]) in (720, 721)


def test_area_heatmap_over_a_huge_range_stays_within_its_default_columns(api: Served) -> None:
    body = api.ok("/analytics/areas", start="1970-01-01T00:00:00Z", end="2100-01-01T00:00:00Z")
    assert len(body["buckets"]) <= analytics.HEAT_COLUMNS
    assert sum(n for _, _, n in body["cells"]) == len(api.home.records)


def expected_durations(api: Served) -> dict[tuple[str, str], list[float]]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=2)):
        if r["duration_in_state"] is not None and kept_state(r["old_state"]):
            groups[(r["entity_id"], r["old_state"])].append(r["duration_in_state"])
    return groups


def test_duration_statistics_per_entity_and_state(api: Served) -> None:
    body = api.ok("/analytics/durations", limit=1000, **window(api))
    expected = expected_durations(api)
    got = {(i["entity_id"], i["state"]): i for i in body["items"]}
    assert set(got) == set(expected)
    for key, values in expected.items():
        item = got[key]
        assert (item["count"], item["min_s"], item["max_s"]) == (len(values), min(values), max(values))
        assert item["total_s"] == pytest.approx(sum(values))
        assert item["mean_s"] == pytest.approx(sum(values) / len(values))
    assert [i["total_s"] for i in body["items"]] == sorted((i["total_s"] for i in body["items"]), reverse=True)


def test_duration_anomalies_find_the_too_short_and_too_long_stays(api: Served) -> None:
    body = api.ok("/analytics/durations", entity_id="light.kitchen", **window(api))
    found = {(a["state"], a["kind"], a["duration_s"]) for a in body["anomalies"]}
    assert found == {("on", "too_short", 60.0), ("off", "too_long", 43200.0)}
    assert {a["name"] for a in body["anomalies"]} == {i["name"] for i in body["items"]} == {"Kitchen Light"}
    expected = statistics.median(expected_durations(api)[("light.kitchen", "off")])
    assert next(a for a in body["anomalies"] if a["kind"] == "too_long")["expected_s"] == expected
    assert body["rule"]["min_samples"] == 5


def test_durations_of_an_empty_range(api: Served) -> None:
    body = api.ok("/analytics/durations", start="2001-01-01T00:00:00Z", end="2001-01-02T00:00:00Z")
    assert (body["items"], body["anomalies"], body["samples"]) == ([], [], 0)


def test_reliability_per_device(api: Served) -> None:
    body = api.ok("/analytics/reliability", **window(api))
    by_id = {d["device_id"]: d for d in body["items"]}
    assert set(by_id) == {d[0] for d in dataset.DEVICES}
    plug = by_id["dev_plug"]
    assert plug["unavailable_periods"] == 2 and plug["unavailable_s"] == 5400
    assert plug["availability"] == pytest.approx(1 - 5400 / (48 * 3600))
    plug_events = matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=2), device_id="dev_plug")
    assert plug["events"] == len(plug_events)
    assert plug["last_seen"] == plug_events[0]["time_fired"]
    assert plug["events_per_hour"] == pytest.approx(len(plug_events) / 48)
    assert (plug["name"], plug["manufacturer"], plug["model"], plug["area_id"], plug["area_name"],
            plug["entity_count"]) == ("Kitchen Plug", "Shelly", "Plug S", "kitchen", "Kitchen", 2)
    quiet = by_id["dev_quiet"]
    assert (quiet["events"], quiet["last_seen"], quiet["availability"]) == (0, None, 1)
    assert body["items"][0]["device_id"] == "dev_plug"  # least available first


def test_reliability_over_16_day_buckets_counts_each_device_s_events_and_sql_reads_them(api: Served) -> None:
    start, end = whole_16_days(api.home.t0)
    body = api.ok("/analytics/reliability", start=start.isoformat(), end=end.isoformat())
    for device in body["items"]:
        found = matching(api.home.records, start, end, device_id=device["device_id"])
        assert device["events"] == len(found), device["device_id"]
        assert device["last_seen"] == (found[0]["time_fired"] if found else None), device["device_id"]
    if api.backend == "sqlite":
        assert body["resolution"] == "16d"


def test_an_unavailable_period_still_open_lasts_until_the_range_end(api: Served) -> None:
    end = api.home.t0 + 10 * HOUR + dt.timedelta(minutes=30)
    body = api.ok("/analytics/reliability", start=api.home.t0.isoformat(), end=end.isoformat())
    plug = next(d for d in body["items"] if d["device_id"] == "dev_plug")
    assert (plug["unavailable_periods"], plug["unavailable_s"]) == (1, 1800)


def test_an_unavailable_period_begun_before_the_range_counts_from_its_start(api: Served) -> None:
    start = api.home.t0 + 10 * HOUR + dt.timedelta(minutes=15)
    body = api.ok("/analytics/reliability", start=start.isoformat(),
                  end=(api.home.t0 + 20 * HOUR).isoformat())
    plug = next(d for d in body["items"] if d["device_id"] == "dev_plug")
    assert (plug["unavailable_periods"], plug["unavailable_s"]) == (1, 2700)


def expected_anomalies(api: Served) -> list[tuple[str, str]]:
    """(event_id, kind) of every anomaly in the window, most severe first, ties by time and event id."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in matching(api.home.records, api.home.t0, api.home.t0 + dt.timedelta(days=2)):
        if r["duration_in_state"] is not None and r["duration_in_state"] >= 0 and kept_state(r["old_state"]):
            groups[(r["entity_id"], r["old_state"])].append(r)
    found = []
    for group in groups.values():
        median = statistics.median(r["duration_in_state"] for r in group)
        if len(group) < 5 or median <= 0:
            continue
        for r in group:
            d = r["duration_in_state"]
            if d < 0.1 * median:
                found.append((median / max(d, 1e-9), r["time_fired"], r["event_id"], "too_short"))
            elif d > 10 * median:
                found.append((d / median, r["time_fired"], r["event_id"], "too_long"))
    found.sort(key=lambda a: (-a[0], parse_timestamp(a[1]), a[2]))
    return [(event_id, kind) for _, _, event_id, kind in found]


def test_duration_anomalies_are_the_most_severe_first_cut_to_the_limit(api: Served) -> None:
    expected = expected_anomalies(api)
    assert len(expected) >= 2
    for limit in (1, len(expected) - 1, 1000):
        body = api.ok("/analytics/durations", anomalies=limit, **window(api))
        assert [(a["event_id"], a["kind"]) for a in body["anomalies"]] == expected[:limit]


def test_durations_format_only_the_anomalies_they_answer(api: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third of a busy home's stays can be anomalies: their times are formatted only for those answered."""
    formatted: list[dt.datetime | None] = []

    def counting_iso(value: dt.datetime | None) -> str | None:
        formatted.append(value)
        return iso(value)

    monkeypatch.setattr(analytics, "iso", counting_iso)
    f = EventFilter(start=api.home.t0, end=api.home.t0 + dt.timedelta(days=2))
    store = open_event_store(api.store_url)
    try:
        body = analytics.durations(store, f, Range(f.start, f.end), 10, 1, {})
    finally:
        store.close()
    assert len(expected_anomalies(api)) >= 2
    assert len(body["anomalies"]) == 1
    assert len(formatted) == 3  # the range's start and end, and the one anomaly answered


def test_durations_fail_when_their_items_read_fails(api: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The items are read in a thread of their own beside the sample: their failure is the answer's, not lost there."""
    f = EventFilter(start=api.home.t0, end=api.home.t0 + dt.timedelta(days=2))
    store = open_event_store(api.store_url)

    def unavailable(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("the items' read failed")

    monkeypatch.setattr(store, "durations", unavailable)
    try:
        with pytest.raises(StoreUnavailable, match="the items' read failed"):
            analytics.durations(store, f, Range(f.start, f.end), 10, 1, {})
    finally:
        store.close()
