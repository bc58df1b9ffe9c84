"""Every store test gets a database of its own, on the session's servers (tests/conftest.py).

SQL stores compact days older than yesterday (wall clock) into blocks a little after each write, so the
suite's fixed past times are read from the cold tier; `sqlite-hot` never compacts, so the same tests read
the hot tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import open_event_store
from tests.support.servers import store_url

BACKENDS = ["sqlite", "sqlite-hot", "postgresql", "influxdb1", "influxdb1-ha"]


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
