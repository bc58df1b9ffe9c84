"""The event store's behaviour, identical on every backend (SQLite, PostgreSQL, InfluxDB 1.x)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ingestor import normalization
from ingestor.cursors import CursorError
from ingestor.store.model import Bucket, Columns, EventFilter
from ingestor.store.timerange import to_micros
from tests.store.stays import newest_first
from tests.support.ha_events import many, sample_events, state_changed

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
EVERYTHING = EventFilter()


def records(events: list[dict[str, Any]], **overrides: Any) -> list[dict[str, Any]]:
    out = [normalization.normalize_event(e) for e in events]
    for r in out:
        r.update(overrides)
    return out


def placed(entity: str, at: dt.datetime, old: str, new: str, area: str | None = None, device: str | None = None,
           unit: str | None = "°C") -> dict[str, Any]:
    record = normalization.normalize_event(state_changed(entity, old, new, at, unit=unit))
    record.update(area_id=area, device_id=device)
    return record


@pytest.fixture()
def home(store: Any) -> list[dict[str, Any]]:
    """A small home: two areas, a device, numbers, switches and an automation chain."""
    written = [
        placed("sensor.living_temp", T0, "20.0", "21.0", area="living_room", device="dev1"),
        placed("sensor.living_temp", T0 + dt.timedelta(minutes=1), "21.0", "23.0", area="living_room", device="dev1"),
        placed("sensor.kitchen_humidity", T0 + dt.timedelta(minutes=2), "40", "44", area="kitchen", unit="%"),
        placed("light.kitchen", T0 + dt.timedelta(minutes=7), "off", "on", area="kitchen", unit=None),
        placed("light.kitchen", T0 + dt.timedelta(minutes=9), "on", "off", area="kitchen", unit=None),
        *records(sample_events()[1:]),  # the recorded automation chain and template sensor (2026-11-22)
    ]
    store.write(written)
    return written


def test_a_written_record_reads_back_field_by_field(store: Any) -> None:
    record = placed("sensor.living_temp", T0, "20.0", "21.5", area="living_room", device="dev1")
    record.update(device_manufacturer="Acme", device_model="T-1000",
                  weather={"temperature": 3.5, "humidity": 80.0, "pressure": 1012.0, "condition": "rain",
                           "wind_speed": 4.2, "fetched_at": "2026-11-20T11:55:00.000000Z"},
                  air_quality={"aqi": 12})  # a context source beside weather: kept, not dropped
    store.write([record])
    (back,) = store.query(EVERYTHING).items
    assert back == record


def test_every_recorded_sample_round_trips(store: Any) -> None:
    written = records(sample_events()[1:])
    store.write(written)
    back = {r["event_id"]: r for r in store.query(EVERYTHING, limit=50).items}
    assert back == {r["event_id"]: r for r in written}


def test_writing_the_same_batch_again_adds_nothing(store: Any) -> None:
    batch = records(many(30, start=T0))
    store.write(batch)
    store.write(batch)
    store.write(batch[:10])
    assert store.count(EVERYTHING) == 30


def test_query_returns_newest_first(store: Any, home: list[dict[str, Any]]) -> None:
    times = [r["time_fired"] for r in store.query(EVERYTHING).items]
    assert times == sorted(times, reverse=True) and len(times) == len(home)


@pytest.mark.parametrize(("flt", "expected"), [
    (EventFilter(entity_id="light.kitchen"), 2),
    (EventFilter(domain="sensor"), 4),
    (EventFilter(area_id="kitchen"), 3),
    (EventFilter(device_id="dev1"), 2),
    (EventFilter(event_type="state_changed"), 11),
    (EventFilter(event_type="call_service"), 0),
    (EventFilter(start=T0 + dt.timedelta(minutes=1), end=T0 + dt.timedelta(minutes=8)), 3),
    (EventFilter(text="HUMIDITY"), 1),  # friendly name, any case
    (EventFilter(text="23.0"), 1),  # state
    (EventFilter(domain="light", start=T0 + dt.timedelta(minutes=8)), 1),
])
def test_query_filters(store: Any, home: list[dict[str, Any]], flt: EventFilter, expected: int) -> None:
    assert len(store.query(flt).items) == expected
    assert store.count(flt) == expected


def test_cursor_pages_cover_every_event_once_in_order(store: Any) -> None:
    store.write(records(many(57, start=T0)))
    seen: list[str] = []
    page = store.query(EVERYTHING, limit=10)
    while True:
        seen += [r["time_fired"] + r["event_id"] for r in page.items]
        if page.next_cursor is None:
            break
        page = store.query(EVERYTHING, limit=10, cursor=page.next_cursor)
    assert len(seen) == len(set(seen)) == 57
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("cursor", ["bm90LWEtY3Vyc29y",  # not-a-cursor
                                    "WzkyMjMzNzIwMzY4NTQ3NzU4MDgsIngiXQ"])  # [2**63, "x"]: beyond any backend
def test_a_forged_cursor_is_refused(store: Any, cursor: str) -> None:
    with pytest.raises(CursorError):
        store.query(EVERYTHING, cursor=cursor)


def test_counts_group_by_each_dimension(store: Any, home: list[dict[str, Any]]) -> None:
    assert store.counts(EVERYTHING, "domain")[:2] == [("sensor", 4), ("automation", 2)]
    assert store.counts(EVERYTHING, "event_type") == [("state_changed", 11)]
    assert store.counts(EVERYTHING, "entity_id", limit=2) == [("automation.count_lights_turned_on", 2),
                                                               ("light.kitchen", 2)]
    assert dict(store.counts(EVERYTHING, "area_id"))["kitchen"] == 3


def test_buckets_count_and_aggregate_state_value(store: Any, home: list[dict[str, Any]]) -> None:
    flt = EventFilter(entity_id="sensor.living_temp")
    assert store.buckets(flt, 300) == [Bucket(T0, 2, 22.0, 21.0, 23.0)]
    kitchen = store.buckets(EventFilter(area_id="kitchen"), 300)
    assert [(b.start, b.count) for b in kitchen] == [(T0, 1), (T0 + dt.timedelta(minutes=5), 2)]
    assert (kitchen[1].mean, kitchen[1].min, kitchen[1].max) == (0.5, 0.0, 1.0)


def test_trace_lookup_by_context_and_by_parent(store: Any, home: list[dict[str, Any]]) -> None:
    chain = sample_events()[1:5]
    trigger, caused = chain[0]["context"]["id"], chain[1]["context"]["id"]
    assert [r["entity_id"] for r in store.by_context(trigger)] == ["input_boolean.living_room_light"]
    children = store.by_parent(trigger)
    assert {r["entity_id"] for r in children} == {"automation.count_lights_turned_on", "counter.light_on_events"}
    assert all(r["context"]["id"] == caused for r in children)
    assert store.by_context("no-such-context") == []


def test_duration_statistics_per_entity_and_state_left(store: Any, home: list[dict[str, Any]]) -> None:
    stats = {(d.entity_id, d.state): d for d in store.durations(EventFilter(domain="light"))}
    assert set(stats) == {("light.kitchen", "off"), ("light.kitchen", "on")}
    on = stats[("light.kitchen", "on")]  # each made-up state change ends a state that lasted 30 s
    assert (on.count, on.total, on.mean, on.min, on.max) == (1, 30.0, 30.0, 30.0, 30.0)


def test_duration_statistics_leave_plain_numbers_out_but_not_the_states_numbers_go_through(store: Any) -> None:
    """A sensor's every value would be a group of its own; its stays in `unavailable` are what counts."""
    store.write([placed("sensor.power", T0, "20.5", "21.0"), placed("sensor.power", T0 + dt.timedelta(minutes=1),
                                                                     "21.0", "unavailable"),
                 placed("sensor.power", T0 + dt.timedelta(minutes=2), "unavailable", "22.5")])
    stats = store.durations(EventFilter(entity_id="sensor.power"))
    assert [(d.entity_id, d.state, d.count, d.total) for d in stats] == [("sensor.power", "unavailable", 1, 30.0)]
    seen = [placed("sensor.last_seen", T0 + dt.timedelta(minutes=i), f"2026-11-20T11:5{i}:00+00:00",
                   f"2026-11-20T11:5{i + 1}:00+00:00", unit=None) for i in range(3)]
    store.write(seen)
    assert store.durations(EventFilter(entity_id="sensor.last_seen")) == []  # timestamps: every value its own


def test_export_streams_a_range_oldest_first_in_batches(store: Any) -> None:
    written = records(many(45, start=T0))
    store.write(written)
    batches = list(store.export(T0, T0 + dt.timedelta(seconds=1), batch=20))
    assert [len(b) for b in batches] == [20, 20, 5]
    exported = [r for b in batches for r in b]
    assert [r["event_id"] for r in exported] == [r["event_id"] for r in sorted(written, key=lambda r: r["time_fired"])]


def test_export_of_a_day_comes_in_order_across_its_hours(store: Any) -> None:
    """A day read whole held every event of it at once; the SQL stores read a few minutes at a time
    (tests/store/test_export_windows.py)."""
    written = records([state_changed(f"sensor.h{i % 3}", "1", str(i), T0 + dt.timedelta(minutes=13 * i))
                       for i in range(40)])  # 8 h 40 min, three entities
    store.write(written)
    batches = list(store.export(T0 - dt.timedelta(hours=1), T0 + dt.timedelta(hours=10), batch=4))
    exported = [r for b in batches for r in b]
    assert [r["event_id"] for r in exported] == [r["event_id"] for r in sorted(written, key=lambda r: r["time_fired"])]
    assert all(len(b) <= 4 for b in batches)


def test_delete_removes_exactly_the_range(store: Any, home: list[dict[str, Any]]) -> None:
    removed = store.delete(T0, T0 + dt.timedelta(minutes=5))
    assert removed == 3
    assert store.count(EVERYTHING) == len(home) - 3
    assert store.count(EventFilter(end=T0 + dt.timedelta(minutes=5))) == 0


def test_health_reports_ok_and_a_latency(store: Any) -> None:
    health = store.health()
    assert health.status == "ok" and health.latency_ms is not None


HOSTILE = ["x' OR '1'='1", "'; DROP TABLE events; --", '" OR 1=1 --', "a\\' OR ''='", "%", "x%y_z", ".*", "/.*/",
           "\\", "') OR true; DELETE FROM events WHERE ('", "name\nnewline", "; DROP MEASUREMENT state_changed"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_values_match_nothing_and_harm_nothing(store: Any, home: list[dict[str, Any]],
                                                              value: str) -> None:
    for flt in (EventFilter(entity_id=value), EventFilter(domain=value), EventFilter(area_id=value),
                EventFilter(device_id=value), EventFilter(event_type=value), EventFilter(text=value)):
        assert store.query(flt).items == []
        assert store.count(flt) == 0
    assert store.by_context(value) == [] and store.by_parent(value) == []
    assert store.count(EVERYTHING) == len(home)


def test_hostile_values_inside_records_round_trip_exactly(store: Any) -> None:
    record = placed("sensor.hostile", T0, "a", "x' OR '1'='1, \"quoted\" \\ back=slash", area="a b,c=d")
    record.update(friendly_name="'; DROP TABLE events; --", device_model='model "7", rev=2 \\',
                  attributes={"note": "line\nbreak", "q": "'\"\\"})
    store.write([record])
    (back,) = store.query(EventFilter(entity_id="sensor.hostile")).items
    assert back == record
    assert store.count(EventFilter(text="DROP TABLE")) == 1


def test_backslashes_in_tag_values_round_trip_exactly(store: Any) -> None:
    record = placed("sensor.slashes", T0, "a", "b", area="c:\\temp\\x", device="d\\,e f=g")
    record.update(device_class="a\\b")
    store.write([record])
    (back,) = store.query(EventFilter(entity_id="sensor.slashes")).items
    assert back == record
    assert store.count(EventFilter(area_id="c:\\temp\\x")) == 1


def test_state_value_keeps_one_type_across_numbers_and_booleans(store: Any) -> None:
    """In InfluxDB a field keeps its first type: 1 must be written as 1.0 so 0.5 is accepted later."""
    batch = [placed("sensor.mixed", T0, "off", "on", unit=None),
             placed("sensor.mixed", T0 + dt.timedelta(seconds=1), "on", "7")]
    batch[1]["state_value"] = 7  # an int, as a later stage might produce
    store.write(batch)
    store.write([placed("sensor.mixed", T0 + dt.timedelta(seconds=2), "7", "0.5")])
    assert [r["state_value"] for r in store.query(EventFilter(entity_id="sensor.mixed")).items] == [0.5, 7.0, 1.0]


# --- read methods the query function added (state filters, device counts, last seen, duration samples) ---


def test_state_and_old_state_filters_match_exactly(store: Any, home: list[dict[str, Any]]) -> None:
    on = sorted(r["event_id"] for r in home if r["state"] == "on")
    assert len(on) > 1 and sorted(r["event_id"] for r in store.query(EventFilter(state="on")).items) == on
    assert [r["state"] for r in store.query(EventFilter(old_state="on", entity_id="light.kitchen")).items] == ["off"]
    assert store.count(EventFilter(state="o")) == 0  # exact, not a substring
    for value in HOSTILE:
        assert store.count(EventFilter(state=value)) == 0 and store.count(EventFilter(old_state=value)) == 0


def test_counts_group_by_device(store: Any, home: list[dict[str, Any]]) -> None:
    assert dict(store.counts(EventFilter(start=T0, end=T0 + dt.timedelta(hours=1)), "device_id")) == \
        {"dev1": 2, None: 3}


def test_last_seen_per_dimension_newest_first(store: Any, home: list[dict[str, Any]]) -> None:
    seen = store.last_seen(EventFilter(start=T0, end=T0 + dt.timedelta(hours=1)), "area_id")
    assert seen == [("kitchen", T0 + dt.timedelta(minutes=9)), ("living_room", T0 + dt.timedelta(minutes=1))]
    assert store.last_seen(EventFilter(start=T0, end=T0 + dt.timedelta(minutes=5)), "device_id", limit=1) == \
        [(None, T0 + dt.timedelta(minutes=2))]
    assert store.last_seen(EventFilter(entity_id="no.such"), "device_id") == []


def test_stay_groups_hold_single_durations_by_entity_and_state_left(store: Any, home: list[dict[str, Any]]) -> None:
    samples = newest_first(store.stay_groups(EventFilter(domain="light")))
    assert [(s.entity_id, s.state, s.time, s.duration) for s in samples] == [
        ("light.kitchen", "on", T0 + dt.timedelta(minutes=9), 30.0),
        ("light.kitchen", "off", T0 + dt.timedelta(minutes=7), 30.0)]
    assert samples[0].event_id == home[4]["event_id"]
    assert len(newest_first(store.stay_groups(EventFilter(start=T0, end=T0 + dt.timedelta(hours=1)), limit=1))) == 1
    assert store.stay_groups(EventFilter(entity_id="sensor.living_temp")) == []  # numbers: see durations


def test_stay_groups_hold_the_newest_stays_however_many_readings_with_a_duration_are_newer(store: Any) -> None:
    """A meter's every reading carries a duration but is no stay: the `limit` newest stays are read past them, also
    past those of a sensor that was once unavailable (a stay) and otherwise reads numbers."""
    stays = [placed("light.hall", T0 + dt.timedelta(minutes=m), old, new, unit=None)
             for m, old, new in ((1, "off", "on"), (2, "on", "off"), (3, "off", "on"))]
    back = placed("sensor.meter", T0 + dt.timedelta(minutes=4), "unavailable", "5")
    readings = [placed("sensor.meter", T0 + dt.timedelta(minutes=5, seconds=s), f"-0.{s + 1}", f"-0.{s + 2}")
                for s in range(30)]  # negative fractions: numbers InfluxDB's read does not pass over itself
    store.write([*stays, back, *readings])
    samples = newest_first(store.stay_groups(EventFilter(start=T0, end=T0 + dt.timedelta(hours=1)), limit=3))
    assert [(s.entity_id, s.state, s.time) for s in samples] == [
        ("sensor.meter", "unavailable", T0 + dt.timedelta(minutes=4)),
        ("light.hall", "off", T0 + dt.timedelta(minutes=3)), ("light.hall", "on", T0 + dt.timedelta(minutes=2))]


def test_stay_groups_of_a_long_range_hold_its_newest_stays_however_far_apart_its_days(store: Any) -> None:
    """Stays spread over a month: the newest `limit` of the range, wherever in it they lie (InfluxDB reads a
    long range from its end back, a window at a time)."""
    end = T0 + dt.timedelta(days=30)
    ages = [dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(days=5),  # these two on windows' edges
            dt.timedelta(days=10), dt.timedelta(days=29, hours=23)]
    store.write([placed("light.hall", end - age, ("off", "on")[i % 2], ("on", "off")[i % 2], unit=None)
                 for i, age in enumerate(ages)])
    month = EventFilter(start=T0, end=end)
    assert [s.time for s in newest_first(store.stay_groups(month, limit=3))] == [end - age for age in ages[:3]]
    assert [s.time for s in newest_first(store.stay_groups(month, limit=10))] == [end - age for age in ages]


def test_grid_counts_per_value_and_bucket(store: Any, home: list[dict[str, Any]]) -> None:
    window = EventFilter(start=T0, end=T0 + dt.timedelta(hours=1))
    assert store.grid(window, "area_id", 300) == [
        ("kitchen", T0, 1), ("living_room", T0, 2), ("kitchen", T0 + dt.timedelta(minutes=5), 2)]
    assert store.grid(EventFilter(start=T0 - dt.timedelta(days=1), end=T0), "area_id", 300) == []
    everything = store.grid(EVERYTHING, "area_id", 86400)
    assert sum(n for _, _, n in everything) == len(home)
    assert [(key, n) for key, _, n in everything if key is None] == [(None, len(home) - 5)]


def _columns(found: Columns) -> list[tuple[Any, ...]]:
    return list(zip(found.start, found.count, found.mean, found.min, found.max, strict=True))


@pytest.mark.parametrize("bucket_s", [300, 3600, 86_400])
def test_series_columns_give_each_entity_s_buckets_in_one_read(store: Any, home: list[dict[str, Any]],
                                                               bucket_s: int) -> None:
    """Unaligned ends (raw events), then 5-minute, hour and day rollups: each entity's own buckets, and none for
    an entity without events."""
    start, end = T0 - dt.timedelta(seconds=90), T0 + dt.timedelta(days=2, seconds=17)
    entities = ["sensor.living_temp", "light.kitchen", "sensor.kitchen_humidity", "sensor.never_seen"]
    found = store.series_columns(entities, start, end, bucket_s)
    assert list(found) == entities
    t0, later = to_micros(T0) // (bucket_s * 1_000_000) * bucket_s * 1_000_000, to_micros(T0 + dt.timedelta(minutes=5))
    light_bucket = later if bucket_s == 300 else t0
    assert _columns(found["sensor.living_temp"]) == [(t0, 2, 22.0, 21.0, 23.0)]
    assert _columns(found["light.kitchen"]) == [(light_bucket, 2, 0.5, 0.0, 1.0)]
    assert _columns(found["sensor.kitchen_humidity"]) == [(t0, 1, 44.0, 44.0, 44.0)]
    assert _columns(found["sensor.never_seen"]) == []
    assert store.series_columns([], start, end, bucket_s) == {}


@pytest.mark.parametrize("bucket_s", [300, 1800, 3600, 21_600, 86_400])
def test_series_columns_of_whole_buckets_give_the_rollup_tier_s_own_buckets(store: Any, home: list[dict[str, Any]],
                                                                           bucket_s: int) -> None:
    """A range of whole buckets (as the energy endpoints ask: a year of hours) is that tier's rows themselves, or
    those of the coarsest tier that divides them summed (30 minutes of 5-minute rows, 6 hours of hourly ones): the
    same buckets as a range with raw ends, each entity's own, none for an entity without events."""
    day = dt.timedelta(days=1)
    start = T0.replace(hour=0) - day
    entities = ["sensor.living_temp", "light.kitchen", "sensor.never_seen"]
    found = store.series_columns(entities, start, start + 3 * day, bucket_s)
    assert list(found) == entities
    t0 = to_micros(T0) // (bucket_s * 1_000_000) * bucket_s * 1_000_000
    light_bucket = to_micros(T0 + dt.timedelta(minutes=5)) if bucket_s == 300 else t0
    assert _columns(found["sensor.living_temp"]) == [(t0, 2, 22.0, 21.0, 23.0)]
    assert _columns(found["light.kitchen"]) == [(light_bucket, 2, 0.5, 0.0, 1.0)]
    assert _columns(found["sensor.never_seen"]) == []
    info: dict[str, Any] = {}
    store.series_columns(entities, start, start + 3 * day, bucket_s, info=info)
    assert info["resolution"] == {300: "5m", 1800: "5m", 3600: "1h", 21_600: "1h", 86_400: "1d"}[bucket_s]


@pytest.mark.parametrize("bucket_s", [300, 3600, 86_400])
def test_series_columns_of_a_range_cut_mid_bucket_count_only_the_events_in_it(store: Any, home: list[dict[str, Any]],
                                                                             bucket_s: int) -> None:
    """The whole buckets between come from their tier's rows, the partial ones at either end from what of them
    lies in the range: an event before the start or at the end is in no bucket."""
    end = T0 + dt.timedelta(days=2, seconds=17)
    store.write([placed("sensor.tail_probe", end - dt.timedelta(seconds=12), "1", "7"),
                 placed("sensor.tail_probe", end, "7", "9")])
    entities = ["sensor.living_temp", "light.kitchen", "sensor.tail_probe"]
    found = store.series_columns(entities, T0 + dt.timedelta(seconds=30), end, bucket_s)

    def bucket(at: dt.datetime) -> int:
        return to_micros(at) // (bucket_s * 1_000_000) * bucket_s * 1_000_000

    assert _columns(found["sensor.living_temp"]) == [(bucket(T0), 1, 23.0, 23.0, 23.0)]  # not T0's 21.0
    assert _columns(found["light.kitchen"]) == [(bucket(T0 + dt.timedelta(minutes=7)), 2, 0.5, 0.0, 1.0)]
    assert _columns(found["sensor.tail_probe"]) == [(bucket(end), 1, 7.0, 7.0, 7.0)]


def test_series_columns_add_up_an_entity_s_series_across_an_area_move(store: Any) -> None:
    """An entity moved to another area is two series underneath: its buckets count both."""
    store.write([placed("sensor.moved", T0, "1", "10", area="hall"),
                 placed("sensor.moved", T0 + dt.timedelta(minutes=20), "10", "30", area="attic"),
                 placed("sensor.moved", T0 + dt.timedelta(hours=1), "30", "20", area="attic")])
    found = store.series_columns(["sensor.moved"], T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1), 3600)
    assert _columns(found["sensor.moved"]) == [(to_micros(T0), 2, 20.0, 10.0, 30.0),
                                               (to_micros(T0 + dt.timedelta(hours=1)), 1, 20.0, 20.0, 20.0)]
