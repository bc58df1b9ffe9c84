"""The query function through the real local runtime's gateway (/function/query/...), and with its store down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from localfaas.natsserver import free_port
from tests.queries import dataset
from tests.queries.conftest import Served, load
from tests.queries.model import matching
from tests.support.function import served
from tests.support.http import call
from tests.support.runtime import REPO, LocalRuntime

STACK = Path(__file__).resolve().parent / "stack.query.yml"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("query-runtime")
    home = dataset.build()
    store_url, metadata_url = f"sqlite:///{folder}/events.db", f"sqlite:///{folder}/metadata.db"
    load(store_url, metadata_url, home)
    env = {"TEST_EVENT_STORE_URL": store_url, "TEST_METADATA_DB_URL": metadata_url}
    with LocalRuntime(folder, stack=STACK, env=env) as runtime:
        yield Served(f"{runtime.gateway}/function/query", "sqlite", home, store_url, metadata_url)


def test_events_through_the_gateway(gateway: Served) -> None:
    start = gateway.home.t0
    body = gateway.ok("/events", start=start.isoformat(), entity_id="switch.kitchen_plug")
    assert [e["event_id"] for e in body["items"]] == \
        [r["event_id"] for r in matching(gateway.home.records, start, entity_id="switch.kitchen_plug")]


def test_every_contract_endpoint_answers_through_the_gateway(gateway: Served) -> None:
    window = {"start": gateway.home.t0.isoformat(), "end": (gateway.home.t0 + dt.timedelta(days=2)).isoformat()}
    for path, query in (("/stats/summary", window), ("/stats/trend", window), ("/analytics/areas", window),
                        ("/analytics/durations", window), ("/analytics/reliability", window),
                        (f"/analytics/trace/{gateway.home.chain[0]}", {}), ("/devices", {}),
                        ("/devices/dev_plug", {}), ("/entities", {}), ("/areas", {}), ("/config", {}),
                        ("/entities/light.kitchen/history", window), ("/openapi.json", {})):
        gateway.ok(path, **query)


def test_the_gateway_passes_errors_through(gateway: Served) -> None:
    reply = gateway.get("/events", limit="0")
    assert reply.status == 400 and reply.json()["error"]["message"].startswith("limit:")
    assert gateway.get("/devices/nope").status == 404


def test_a_store_that_cannot_be_reached_is_a_503_and_unhealthy(tmp_path: Path) -> None:
    env = {"EVENT_STORE_URL": f"influxdb://reader:s3cr3t-pw@127.0.0.1:{free_port()}/gone",
           "METADATA_DB_URL": f"sqlite:///{tmp_path}/metadata.db", "SECRETS_DIR": str(tmp_path / "secrets")}
    with served(REPO / "functions" / "query", "query", tmp_path / "query.log", env) as url:
        for path in ("/events", "/stats/summary", "/analytics/trace/01ZZZZZZZZZZZZZZZZZZZZZZZZ"):
            reply = call("GET", url + path)
            assert reply.status == 503, (path, reply.body)
            assert reply.json()["error"]["code"] == "unavailable"
        health = call("GET", url + "/_/health")
        assert health.status == 503 and health.json()["store"]["status"] == "unavailable"
        assert call("GET", url + "/devices").status == 200  # the metadata DB still answers
        config = call("GET", url + "/config")
        assert config.status == 200 and b"s3cr3t-pw" not in config.body
        assert config.json()["event_store"]["backend"] == "influxdb1"


def test_a_metadata_db_that_cannot_be_reached_is_a_503(tmp_path: Path) -> None:
    env = {"EVENT_STORE_URL": f"sqlite:///{tmp_path}/events.db",
           "METADATA_DB_URL": f"postgresql://postgres:pw@127.0.0.1:{free_port()}/gone",
           "SECRETS_DIR": str(tmp_path / "secrets")}
    with served(REPO / "functions" / "query", "query", tmp_path / "query.log", env) as url:
        for path in ("/devices", "/analytics/reliability"):  # each takes ~10 s: migrate.upgrade retries
            reply = call("GET", url + path)
            assert reply.status == 503, (path, reply.body)
        assert call("GET", url + "/events").status == 200  # the event store still answers
        assert call("GET", url + "/_/health").status == 503
