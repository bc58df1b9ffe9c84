"""Every store test gets a database of its own, on the session's servers (tests/conftest.py).

SQL stores compact days older than yesterday (wall clock) into blocks a little after each write, so the
suite's fixed past times are read from the cold tier; `sqlite-hot` never compacts, so the same tests read
the hot tier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import open_event_store
from tests.store import rollup_model as model
from tests.support.servers import store_url

BACKENDS = ["sqlite", "sqlite-hot", "postgresql", "influxdb1", "influxdb1-ha"]
# The InfluxDB packs' tests' (test_influx_pack*.py) history: 96 hours up to the current hour's start (its hours
# over, its last day not).
START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
HOURS = 96


def opened(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    event_store = open_event_store(store_url(backend.removesuffix("-hot"), tmp_path, request))
    if backend.endswith("-hot"):
        event_store.now_us = lambda: 0  # nothing is ever older than yesterday: every event stays hot
    return event_store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    yield event_store
    event_store.close()


@pytest.fixture
def url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database of its own on the session's InfluxDB 1.x server, for the InfluxDB packs' tests; a module testing
    other stores names its own `url`."""
    return store_url("influxdb1", tmp_path, request)


@pytest.fixture(scope="module")
def history() -> model.History:
    """A busy home's 2,500 events over HOURS from START, as the InfluxDB packs' tests write them (each module its
    own); a module wanting another home names its own `history`."""
    return model.home(seed=47, start=START, hours=HOURS, events=2500)
