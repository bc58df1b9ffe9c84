"""The event store on InfluxDB 1.x with layout=homeassistant: HA's points beside the events', which read back
whole and are deleted alone. (The whole event-store suite also runs on this layout: backend influxdb1-ha.)"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from ingestor import normalization
from ingestor.store import haconfig, open_event_store
from ingestor.store.model import Aggregate, EventFilter
from tests.store.halayout import snapshot
from tests.support.ha_events import state_changed
from tests.support.servers import InfluxDB1Server

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def reading(entity: str, at: dt.datetime, value: str, **attributes: Any) -> dict[str, Any]:
    record = normalization.normalize_event(state_changed(entity, "1", value, at, unit="°C"))
    record["attributes"].update(attributes)
    record["friendly_name"] = attributes.get("friendly_name", record["friendly_name"])
    return record


@pytest.fixture()
def database(influxdb: InfluxDB1Server) -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def store(influxdb: InfluxDB1Server, database: str) -> Any:
    opened = open_event_store(f"{influxdb.url(database)}?layout=homeassistant")
    yield opened
    opened.close()


def test_a_state_change_is_written_as_the_event_and_as_has_point(store: Any, influxdb: InfluxDB1Server,
                                                                 database: str) -> None:
    store.write([reading("sensor.t", T0, "21.5")])
    own_rollups = snapshot.own_measurements(influxdb, database) - {"state_changed"}
    assert [m for m in snapshot.measurements(influxdb, database) if m not in own_rollups] == ["state_changed", "°C"]
    (point,) = snapshot.snapshot(influxdb, database)["°C"].points
    assert point[1] == (("domain", "sensor"), ("entity_id", "t")) and ("value", 21.5) in point[2]


def test_events_read_back_whole_beside_ha_fields_of_the_same_name_and_another_type(store: Any) -> None:
    """HA writes `friendly_name` as a float when the name ends in a number; the event's is text."""
    record = reading("sensor.t", T0, "21.5", friendly_name="Room 12")
    store.write([record])
    (back,) = store.query(EventFilter()).items
    assert back["friendly_name"] == "Room 12" and back == record
    assert store.count(EventFilter()) == 1 and store.stats(EventFilter(), 3600)[0].mean == 21.5


def test_deleting_events_leaves_has_points_and_the_summaries(store: Any, influxdb: InfluxDB1Server,
                                                             database: str) -> None:
    store.write([reading("sensor.t", T0 + dt.timedelta(minutes=i), str(20 + i)) for i in range(3)])
    store.write_aggregates([Aggregate("sensor.t", "hour", T0, 3, 3, 21.0, 20.0, 22.0)])
    assert store.delete(T0, T0 + dt.timedelta(hours=1)) == 3
    assert store.count(EventFilter()) == 0
    assert len(snapshot.snapshot(influxdb, database)["°C"].points) == 3
    assert len(store.aggregates("sensor.t", "hour", T0, T0 + dt.timedelta(hours=1))) == 1


def test_a_ha_point_influxdb_refuses_leaves_the_events_stored_counted_and_logged_once(
        store: Any, influxdb: InfluxDB1Server, database: str, caplog: pytest.LogCaptureFixture) -> None:
    """A field type HA's own writes fixed long ago (here `value` as text) refuses HA's point, as it refuses
    HA's own write; the events are stored all the same, and the batch is not dead-lettered for it."""
    snapshot.create(influxdb, database)
    old = int((T0 - dt.timedelta(minutes=1)).timestamp())  # field types hold per shard (a week)
    snapshot.write(influxdb, database, f'°C,domain=sensor,entity_id=old value="text" {old}'.encode(), "s")
    refused = REGISTRY.get_sample_value("ha_ingestor_store_ha_layout_refused_total") or 0
    with caplog.at_level(logging.ERROR, logger="ingestor.store.influx"):
        store.write([reading("sensor.t", T0, "21.5")])
        store.write([reading("sensor.t", T0 + dt.timedelta(minutes=1), "22.5")])
    assert store.count(EventFilter()) == 2
    assert REGISTRY.get_sample_value("ha_ingestor_store_ha_layout_refused_total") == refused + 2
    assert caplog.text.count("refused points of HA's layout") == 1 and "field type conflict" in caplog.text


def test_a_tag_value_ending_in_a_backslash_is_stored_with_a_space_after_it(
        influxdb: InfluxDB1Server, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """InfluxDB 1.x cannot store a tag value ending in a backslash (HA's own write of it is refused, point and
    all); the point is kept, as the events' tags are, with one space after it (the backslash doubled, as HA's
    1.x client doubles every backslash)."""
    monkeypatch.setenv(haconfig.SETTING, "tags_attributes: room")
    store = open_event_store(f"{influxdb.url(database)}?layout=homeassistant")
    store.write([reading("sensor.t", T0, "21.5", room="hall\\")])
    store.close()
    (point,) = snapshot.snapshot(influxdb, database)["°C"].points
    assert ("room", "hall\\\\ ") in point[1]
