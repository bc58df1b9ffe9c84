"""A store that goes away: writes fail as 'unavailable' (retry later), and work again when it returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter, StoreUnavailable
from tests.support.ha_events import many
from tests.support.servers import InfluxDB1Server, PostgresServer

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["postgresql", "influxdb1"])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    own = PostgresServer().start() if request.param == "postgresql" else InfluxDB1Server().start()
    yield own
    own.cleanup()


def url_of(server: Any) -> str:
    return server.url if isinstance(server, PostgresServer) else server.url()


def test_writes_during_an_outage_raise_unavailable_and_succeed_after(server: Any) -> None:
    store = open_event_store(url_of(server))
    first, second = [normalization.normalize_event(e) for e in many(20, start=T0)][:10], \
        [normalization.normalize_event(e) for e in many(20, start=T0)][10:]
    store.write(first)
    server.stop()
    with pytest.raises(StoreUnavailable):
        store.write(second)
    assert store.health().status == "unavailable"
    server.start()
    store.write(second)
    assert store.count(EventFilter()) == 20
    assert store.health().status == "ok"
    store.close()


def test_an_unreachable_store_reports_unavailable_without_its_password() -> None:
    store = open_event_store("postgresql://ingestor:s3cret-pw@127.0.0.1:1/ha")
    health = store.health()
    assert health.status == "unavailable"
    assert "s3cret-pw" not in repr(health)
    with pytest.raises(StoreUnavailable) as caught:
        store.write([normalization.normalize_event(many(1, start=T0)[0])])
    assert "s3cret-pw" not in str(caught.value)
