"""The InfluxDB 2.x path. No 2.x server can run here, so a local HTTP server stands in for it and checks
the exact requests influxdb-client sends (v2 write) and the InfluxQL reads (v1-compatible /query)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ingestor.store import influxrollups as ir
from ingestor.store import open_event_store
from ingestor.store.lineprotocol import point
from ingestor.store.model import EventFilter, StoreError, StoreUnavailable
from tests.store.test_lineprotocol import RECORD
from tests.support.influxdb2 import InfluxDB2StandIn

TOKEN = "my-influx-token-0123456789"

OWN = (b"rollup_", b"stays_", b"packed_stays_")  # the store's own points, written after a batch's


@pytest.fixture()
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InfluxDB2StandIn]:
    (tmp_path / "influxdb-token").write_text(TOKEN)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    server = InfluxDB2StandIn()
    yield server
    server.close()


@pytest.fixture()
def influx2(stand_in: InfluxDB2StandIn) -> str:
    return f"influxdb2://127.0.0.1:{stand_in.port}/ha_bucket?org=home"


def test_a_batch_is_one_v2_request_with_token_org_bucket_and_microseconds(influx2: str,
                                                                        stand_in: InfluxDB2StandIn) -> None:
    store = open_event_store(influx2)
    second = {**RECORD, "event_id": "f" * 32, "time_fired": "2026-11-20T12:00:01.000000Z"}
    store.write([RECORD, second])
    (request,) = [r for r in stand_in.writes("ha_bucket") if r["body"].startswith(point(RECORD).encode())]
    assert request["method"] == "POST"
    assert request["query"] == {"org": ["home"], "bucket": ["ha_bucket"], "precision": ["us"]}
    assert request["headers"]["authorization"] == f"Token {TOKEN}"
    assert request["headers"]["content-type"].startswith("text/plain")
    assert request["body"].decode() == f"{point(RECORD)}\n{point(second)}"
    rollups = stand_in.writes("ha_bucket")[stand_in.writes("ha_bucket").index(request) + 1:]
    assert rollups and all(r["body"].startswith(OWN) for r in rollups)  # then its rollups and packed stays


def test_reads_are_influxql_on_the_bucket_through_the_v1_endpoint(influx2: str, stand_in: InfluxDB2StandIn) -> None:
    day = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    f = EventFilter(entity_id="sensor.t", start=day, end=day + dt.timedelta(days=1))
    assert open_event_store(influx2).count(f) == 3
    for request in stand_in.requests:
        assert (request["path"], request["query"]["db"], request["query"]["epoch"]) == ("/query", ["ha_bucket"], ["u"])
        assert request["headers"]["authorization"] == f"Token {TOKEN}"
    q = parse_qs(stand_in.requests[-1]["body"].decode())["q"][0]
    assert q == ('SELECT sum("n") AS n FROM "rollup_1d" WHERE "entity_id" = \'sensor.t\' AND '
                 "time >= 1795132800000000000 AND time < 1795219200000000000")  # a count reads the count alone


def test_a_refused_write_is_a_store_error_with_the_servers_reason(influx2: str, stand_in: InfluxDB2StandIn) -> None:
    stand_in.status = 400
    with pytest.raises(StoreError, match="field type conflict") as caught:
        open_event_store(influx2).write([RECORD])
    assert not isinstance(caught.value, StoreUnavailable)
    assert TOKEN not in str(caught.value)


def test_a_server_error_is_unavailable(influx2: str, stand_in: InfluxDB2StandIn) -> None:
    stand_in.status = 503
    with pytest.raises(StoreUnavailable):
        open_event_store(influx2).write([RECORD])


def test_influxdb2_needs_an_org_and_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("INFLUXDB_TOKEN", raising=False)
    with pytest.raises(ValueError, match="org"):
        open_event_store("influxdb2://127.0.0.1:1/b")


def test_has_layout_writes_the_events_then_has_points_in_a_second_request(stand_in: InfluxDB2StandIn) -> None:
    store = open_event_store(f"influxdb2://127.0.0.1:{stand_in.port}/ha_bucket?org=home&layout=homeassistant")
    store.write([RECORD])
    writes = [w for w in stand_in.writes("ha_bucket") if not w["body"].startswith((*OWN, b"rollups_ready"))]
    events, ha = writes
    assert events["body"].decode() == point(RECORD)
    assert ha["body"].decode() == '°C,domain=sensor,entity_id=t value=21.0 1795176000000001'
    assert ha["query"]["precision"] == ["us"]


def test_has_layout_deletes_each_event_measurement_by_predicate_leaving_has_points(
        stand_in: InfluxDB2StandIn) -> None:
    store = open_event_store(f"influxdb2://127.0.0.1:{stand_in.port}/ha_bucket?org=home&layout=homeassistant")
    assert store.delete(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), dt.datetime(2026, 11, 21, tzinfo=dt.UTC)) == 3
    queries = [parse_qs(r["body"].decode())["q"][0] for r in stand_in.requests if r["path"] == "/query"]
    assert 'SHOW TAG VALUES WITH KEY = "event_type"' in queries
    delete, *rollups = [json.loads(r["body"]) for r in stand_in.requests if r["path"] == "/api/v2/delete"]
    assert delete["predicate"] == '_measurement="state_changed"'
    assert {r["predicate"] for r in rollups} == {f'_measurement="{m}"' for m in ir.MEASUREMENTS}
    assert (delete["start"], delete["stop"]) == ("2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00")
