"""write and metadata-sync through the real local runtime: records reach the store once, always."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization, subjects
from ingestor.metadata.registry import MetadataDB
from ingestor.store import influxrollups, open_event_store
from ingestor.store.model import EventFilter
from tests.metadata.test_metadata import snapshot
from tests.support.ha_events import many, sample_events, state_changed
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime
from tests.support.servers import InfluxDB1Server, PostgresServer

pytestmark = pytest.mark.integration


def stored(runtime: LocalRuntime, flt: EventFilter) -> int:
    return open_event_store(f"sqlite:///{runtime.workdir}/data/events.db").count(flt)


def test_raw_events_end_in_the_store_through_every_stage(runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish_batch(subjects.RAW, "to-store", many(12, prefix="sensor.stored"))
    assert wait_for(lambda: stored(runtime, EventFilter(text="sensor.stored")) == 12, 30)


def test_a_redelivered_batch_is_stored_once(runtime: LocalRuntime, js: JetStreamClient) -> None:
    records = [normalization.normalize_event(e) for e in many(8, prefix="sensor.twice")]
    for _ in range(3):  # the same records under different message ids: past JetStream's own dedup
        js.publish(subjects.NORMALIZED, json.dumps({"v": 1, "batch_id": f"twice-{uuid.uuid4().hex}",
                                                       "events": records}).encode())
    assert wait_for(lambda: stored(runtime, EventFilter(text="sensor.twice")) == 8, 30)
    time.sleep(1.5)
    assert stored(runtime, EventFilter(text="sensor.twice")) == 8


def test_records_the_store_cannot_take_are_dead_lettered_and_the_rest_stored(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    good = normalization.normalize_event(many(1, prefix="sensor.kept")[0])
    js.publish_batch(subjects.ENRICHED, "partly-bad", [good, {**good, "event_id": "nope"}, {"x": 1},
                                                          {**good, "friendly_name": "nul\u0000inside"},
                                                          {**good, "state": "x" * 256}])
    assert wait_for(lambda: stored(runtime, EventFilter(text="sensor.kept")) == 1, 30)
    (record,) = wait_for(lambda: [m for m in js.messages(subjects.DLQ) if m["dlq_id"] == "partly-bad:write:dlq"],
                         15)
    assert [e["reason"] for e in record["entries"]] == [
        "event_id: expected 32 lowercase hex characters", "event_id: expected 32 lowercase hex characters",
        "friendly_name: contains a NUL character, which the store cannot keep",
        "state: 256 characters, at most 255 are kept (refused, not shortened)"]
    assert record["stage"] == "write" and record["subject"] == subjects.ENRICHED


def test_normalize_joins_area_and_device_from_the_registry(runtime: LocalRuntime, js: JetStreamClient) -> None:
    js.publish_batch(subjects.REGISTRY, "registry-1", snapshot("snap-1"))
    db = MetadataDB(f"sqlite:///{runtime.workdir}/data/metadata.db")
    assert wait_for(lambda: db.health().get("devices") == 1, 30)
    light = sample_events()[0]
    uptime = state_changed("sensor.uptime", "1", "2", at=dt.datetime.now(dt.UTC), unit="d")
    js.publish_batch(subjects.RAW, "joined", [light, uptime])
    normalized = wait_for(lambda: [e for m in js.messages(subjects.NORMALIZED) if m["batch_id"] == "joined:normalize"
                                   for e in m["events"]], 30)
    by_entity = {e["entity_id"]: e for e in normalized}
    assert by_entity["input_boolean.living_room_light"]["area_id"] == "living_room"
    assert (by_entity["sensor.uptime"]["device_id"], by_entity["sensor.uptime"]["area_id"]) == (
        "0d3826753d64db6784f4d2cf200c758c", "office")


@pytest.fixture()
def pg_runtime(tmp_path: Path) -> Iterator[tuple[LocalRuntime, PostgresServer]]:
    server = PostgresServer().start()
    rt = LocalRuntime(tmp_path, env={"TEST_EVENT_STORE_URL": server.url}).start()
    yield rt, server
    rt.stop()
    server.cleanup()


def test_a_store_outage_delays_writes_and_loses_nothing(pg_runtime: tuple[LocalRuntime, PostgresServer]) -> None:
    rt, server = pg_runtime
    js = JetStreamClient(rt.nats_url)
    store = open_event_store(server.url)
    try:
        js.publish_batch(subjects.RAW, "before-outage", many(10, prefix="sensor.outage_a"))
        assert wait_for(lambda: store.count(EventFilter()) == 10, 30)
        server.stop()
        for b in range(5):
            js.publish_batch(subjects.RAW, f"during-outage-{b}", many(10, prefix=f"sensor.outage_b{b}"))
        assert wait_for(lambda: sample(f"{rt.gateway}/metrics", "ha_ingestor_connector_messages_total",
                                       function="write", topic=subjects.ENRICHED, outcome="unavailable") >= 3, 60)
        server.start()
        assert wait_for(lambda: store.count(EventFilter()) == 60, 90)
        assert not [m for m in js.messages(subjects.DLQ) if m["stage"] == "write"]
    finally:
        js.close()
        store.close()


def influx_query(server: InfluxDB1Server, database: str, q: str) -> list[Any]:
    reply = call("POST", f"{server.base_url}/query?db={database}&q={urllib.parse.quote(q)}")
    return [v[-1] for s in reply.json()["results"][0].get("series", []) for v in s["values"]]  # the last column


def test_write_dead_letters_a_forged_event_type_and_influxdb_gets_no_measurement_of_it(
        tmp_path: Path, influxdb: InfluxDB1Server) -> None:
    database = f"forged_{uuid.uuid4().hex[:8]}"
    with LocalRuntime(tmp_path, env={"TEST_EVENT_STORE_URL": influxdb.url(database)}) as rt:
        js = JetStreamClient(rt.nats_url)
        try:
            good = normalization.normalize_event(many(1, prefix="sensor.influx_kept")[0])
            forged = ["x,entity_id=forged value=1 1\nforged_measurement", "#dropped_as_a_comment"]
            js.publish_batch(subjects.ENRICHED, "forged", [good, *({**good, "event_type": t} for t in forged)])
            (record,) = wait_for(lambda: [m for m in js.messages(subjects.DLQ) if m["dlq_id"] == "forged:write:dlq"],
                                 30)
            # write dead-letters a batch's rejects before it stores the rest: the good event comes just after
            assert wait_for(lambda: influx_query(influxdb, database, 'SELECT "event_id" FROM "state_changed"'), 30)
        finally:
            js.close()
    assert [(e["index"], e["reason"]) for e in record["entries"]] == [
        (i, "event_type: expected letters, digits, _ . : - (1 to 64), as validate accepts") for i in (1, 2)]
    rollups = influxrollups.MEASUREMENTS | influxrollups.MARKERS  # the store's own, beside the events'
    assert [m for m in influx_query(influxdb, database, "SHOW MEASUREMENTS") if m not in rollups] == ["state_changed"]
    assert influx_query(influxdb, database, 'SELECT "event_id" FROM "state_changed"') == [good["event_id"]]
