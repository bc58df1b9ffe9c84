"""The query function served (template entry, real process) over a real event store and metadata DB
holding the dataset's home: once per module and backend (SQLite, InfluxDB 1.x, InfluxDB 1.x with Home
Assistant's layout written beside the events)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from ingestor.metadata.registry import MetadataDB
from ingestor.store import open_event_store
from tests.queries import dataset
from tests.support.function import served
from tests.support.http import Reply, call
from tests.support.runtime import REPO
from tests.support.servers import store_url

BACKENDS = ["sqlite", "influxdb1", "influxdb1-ha"]


@dataclass
class Served:
    url: str
    backend: str
    home: dataset.Home
    store_url: str
    metadata_url: str

    def get(self, path: str, **query: Any) -> Reply:
        params = {k: v for k, v in query.items() if v is not None}
        url = f"{self.url}{quote(path, safe='/')}" + (f"?{urlencode(params)}" if params else "")
        return call("GET", url, timeout=60)

    def ok(self, path: str, **query: Any) -> Any:
        reply = self.get(path, **query)
        assert reply.status == 200, (reply.status, reply.body[:800])
        return reply.json()


def load(store_url: str, metadata_url: str, home: dataset.Home) -> None:
    store = open_event_store(store_url)
    store.write(home.records)
    store.close()
    db = MetadataDB(metadata_url)
    db.apply(dataset.registry_parts())
    db.engine.dispose()


@pytest.fixture(scope="module")
def home() -> dataset.Home:
    return dataset.build()


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        home: dataset.Home) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"query-{request.param}")
    events_url = store_url(request.param, folder, request)
    metadata_url = f"sqlite:///{folder}/metadata.db"
    load(events_url, metadata_url, home)
    env = {"EVENT_STORE_URL": events_url, "METADATA_DB_URL": metadata_url, "SECRETS_DIR": str(folder / "secrets")}
    with served(REPO / "functions" / "query", "query", folder / "query.log", env) as url:
        yield Served(url, request.param, home, events_url, metadata_url)
