"""ingestor.store.protocol: every backend is an EventStore, method by method, and open_event_store's options hold."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from ingestor.store import EventStore, open_event_store
from ingestor.store.influx import InfluxEventStore
from ingestor.store.model import EventFilter, StoreUnavailable
from ingestor.store.sql import SqlEventStore
from tests.support.faultproxy import FaultProxy
from tests.support.servers import InfluxDB1Server

pytestmark = pytest.mark.integration
METHODS = [name for name, value in vars(EventStore).items() if callable(value) and not name.startswith("_")]


def test_every_backend_opened_by_url_is_an_event_store(store: Any) -> None:
    assert isinstance(store, EventStore)


@pytest.mark.parametrize("backend", [SqlEventStore, InfluxEventStore])
@pytest.mark.parametrize("method", METHODS)
def test_every_backend_takes_each_method_with_the_protocols_parameters(backend: type, method: str) -> None:
    wanted = list(inspect.signature(getattr(EventStore, method)).parameters)
    found = list(inspect.signature(getattr(backend, method)).parameters)
    assert found[:len(wanted)] == wanted
    extra = [p for p in inspect.signature(getattr(backend, method)).parameters.values()][len(wanted):]
    assert all(p.default is not inspect.Parameter.empty for p in extra), f"{backend.__name__}.{method}: {extra}"


def test_an_influxdb_read_waits_as_long_as_read_timeout_allows(influxdb: InfluxDB1Server) -> None:
    store = open_event_store(influxdb.url("t_read_timeout"))
    store.count(EventFilter())  # the database exists
    store.close()
    proxy = FaultProxy(influxdb.port)
    proxy.arm("slow", delay=1.5)
    url = f"influxdb://127.0.0.1:{proxy.port}/t_read_timeout"
    impatient, patient = open_event_store(url, read_timeout=0.5), open_event_store(url, read_timeout=10)
    try:
        with pytest.raises(StoreUnavailable):
            impatient.count(EventFilter())
        assert patient.count(EventFilter()) == 0
    finally:
        impatient.close()
        patient.close()
        proxy.close()
