"""Every store test gets a database of its own, on the session's servers (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import open_event_store
from tests.support.servers import store_url

BACKENDS = ["sqlite", "postgresql", "influxdb1", "influxdb1-ha"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = open_event_store(store_url(request.param, tmp_path, request))
    yield event_store
    event_store.close()
