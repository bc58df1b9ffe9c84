"""The Grafana dashboard for InfluxDB users: every InfluxQL query it sends works on a real InfluxDB 1.x.

Events are written with the event store's own InfluxDB backend, so measurement, tag and field names are
the ones the write function produces; Grafana's macros are substituted as Grafana does before sending.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import open_event_store
from ingestor.store.model import Aggregate
from ingestor.timeutil import format_timestamp
from tests.support.servers import InfluxDB1Server

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "infra" / "observability" / "grafana-influxdb-events.json"
ENTITY = "sensor.living_room_temperature"


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def queries() -> list[tuple[str, str]]:
    return [(p["title"], t["query"]) for p in dashboard()["panels"] for t in p["targets"]]


def record(i: int, at: dt.datetime, entity_id: str, state: str, value: float | None,
           event_type: str = "state_changed") -> dict[str, Any]:
    return {"event_id": f"ev-{i}-{uuid.uuid4().hex[:8]}", "event_type": event_type, "time_fired": format_timestamp(at),
            "origin": "LOCAL", "entity_id": entity_id, "domain": entity_id.split(".")[0], "state": state,
            "old_state": None, "state_value": value, "unit": None, "device_class": None,
            "friendly_name": entity_id, "attributes": {}, "duration_in_state": 12.5,
            "context": {"id": f"ctx-{i}", "parent_id": None, "user_id": None}, "device_id": "dev1",
            "area_id": "living_room", "weather": None, "data": None}


@pytest.fixture(scope="module")
def database(influxdb: InfluxDB1Server) -> Iterator[str]:
    name = f"t_grafana_{uuid.uuid4().hex[:8]}"
    store = open_event_store(influxdb.url(name))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    records = [record(i, now - dt.timedelta(minutes=5 * i), ENTITY, f"{20 + i / 10:.1f}", 20 + i / 10)
               for i in range(24)]
    records += [record(100 + i, now - dt.timedelta(minutes=7 * i), "light.kitchen", "on" if i % 2 else "off",
                       float(i % 2)) for i in range(10)]
    records += [record(200 + i, now - dt.timedelta(minutes=11 * i), "switch.garage", "unavailable", None)
                for i in range(3)]
    records.append(record(300, now - dt.timedelta(minutes=3), "", "", None, event_type="call_service"))
    store.write(records)
    hour = now.replace(minute=0, second=0) - dt.timedelta(hours=2)
    day = hour.replace(hour=0) - dt.timedelta(days=1)
    store.write_aggregates([Aggregate(ENTITY, "hour", hour, 12, 12, 20.5, 19.0, 22.0),
                            Aggregate(ENTITY, "day", day, 288, 288, 20.1, 18.5, 23.0)])
    store.close()
    yield name


def grafana_substitute(query: str) -> str:
    """What Grafana sends: $timeFilter, $__interval and the regex-formatted $entity variable filled in."""
    query = query.replace("$timeFilter", "time >= now() - 7d").replace("$__interval", "1m")
    return query.replace("/^$entity$/", "/^" + re.escape(ENTITY).replace("/", "\\/") + "$/")


def influxql(server: InfluxDB1Server, db: str, q: str) -> dict[str, Any]:
    url = f"{server.base_url}/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"})
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def test_dashboard_is_an_importable_grafana_dashboard_on_an_influxql_datasource() -> None:
    board = dashboard()
    assert [i["name"] for i in board["__inputs"]] == ["DS_INFLUXDB"] and board["uid"] and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    for p in board["panels"]:
        assert set(p["gridPos"]) == {"x", "y", "w", "h"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": "influxdb", "uid": "${DS_INFLUXDB}"} and t["rawQuery"] is True
            assert t["query"].lstrip().upper().startswith("SELECT")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert "entity" in variables and variables["entity"]["query"].startswith("SHOW TAG VALUES")


def test_dashboard_covers_event_rate_domains_values_top_entities_unavailable_and_aggregates() -> None:
    text = " ".join(q for _, q in queries())
    for needle in ('FROM /.*/', 'GROUP BY time($__interval), "domain"', 'mean("state_value")', "top(",
                   "'unavailable'", '"aggregates_hourly"', '"aggregates_daily"'):
        assert needle in text, needle


@pytest.mark.parametrize("title,query", queries(), ids=[t for t, _ in queries()])
def test_panel_query_returns_series_from_a_real_influxdb(influxdb: InfluxDB1Server, database: str, title: str,
                                                          query: str) -> None:
    answer = influxql(influxdb, database, grafana_substitute(query))
    results = answer["results"]
    assert all("error" not in r for r in results), results
    series = [s for r in results for s in r.get("series", [])]
    assert series and any(s["values"] for s in series), f"{title}: no data for {grafana_substitute(query)}"


def test_entity_variable_lists_the_entities_written(influxdb: InfluxDB1Server, database: str) -> None:
    query = dashboard()["templating"]["list"][0]["query"]
    values = {v[1] for r in influxql(influxdb, database, query)["results"] for s in r.get("series", [])
              for v in s["values"]}
    assert {ENTITY, "light.kitchen", "switch.garage"} <= values
