"""Every cursor the query function takes back (events, devices, entities, sports games), on SQLite, PostgreSQL
and InfluxDB: a cursor it gave continues the listing; anything else, however it is malformed, is a 400
naming the parameter, never a 500 from a database handed a value it cannot take."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ingestor import normalization
from ingestor.metadata.registry import MetadataDB
from ingestor.sports.model import Game, Side
from ingestor.sports.repository import GamesRepository
from ingestor.store import open_event_store
from tests.queries import dataset
from tests.queries.conftest import Served
from tests.support.function import served
from tests.support.ha_events import state_changed
from tests.support.runtime import REPO
from tests.support.servers import store_url

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
SPAN = {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}


def opaque(key: Any) -> str:
    """A cursor made the way the API makes them, around any key."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


NOT_CURSORS = ["²", "①", "not a cursor", "%%%", "AAAA=", "a" * 3000, opaque({"t": 1}), opaque([]), opaque(None)]
EVENT_KEYS = [[2**63, "x"], [-(2**63) - 1, "x"], [99999999999999999999, "x"], [2**62, "x"], [True, "x"],
              [1.5, "x"], [1, "a\x00b"], [1, "x", 2], ["x", 1], [1, 2]]
PAIR_KEYS = [["a\x00", "b"], [2**63, "x"], [1, "x"], [None, "x"], ["a", "b", "c"], ["a"]]  # (name, id), (start, id)
SINGLE_KEYS = [["a\x00"], [2**63], [1], [None], ["a", "b"]]  # (entity_id,)


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "influxdb1"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"cursors-{request.param}")
    events_url = store_url(request.param, folder, request)
    metadata_url = request.getfixturevalue("postgres").new_database() if request.param == "postgresql" \
        else f"sqlite:///{folder}/metadata.db"
    events = open_event_store(events_url)
    events.write([normalization.normalize_event(state_changed(f"sensor.s{i}", "1", "2", T0 + dt.timedelta(minutes=i)))
                  for i in range(3)])
    events.close()
    db = MetadataDB(metadata_url)
    db.apply(dataset.registry_parts())
    db.engine.dispose()
    games = GamesRepository(metadata_url)
    for n in range(3):
        games.record(Game(f"40{n}", "nfl", "final", Side("SF", score=n), Side("SEA", score=0),
                          start_time=f"2026-11-0{n + 1}T18:00Z"), None, "2026-11-20T00:00:00Z", False)
    games.engine.dispose()
    env = {"EVENT_STORE_URL": events_url, "METADATA_DB_URL": metadata_url, "SECRETS_DIR": str(folder / "secrets")}
    with served(REPO / "functions" / "query", "query", folder / "query.log", env) as url:
        yield Served(url, request.param, dataset.build(), events_url, metadata_url)


LISTINGS = [("/events", SPAN), ("/devices", {}), ("/entities", {}), ("/sports/games", {})]


@pytest.mark.parametrize(("path", "query"), LISTINGS)
def test_a_cursor_the_api_gave_continues_the_listing(api: Served, path: str, query: dict[str, str]) -> None:
    first = api.ok(path, limit=1, **query)
    assert first["next_cursor"] is not None, first
    second = api.ok(path, limit=1, cursor=first["next_cursor"], **query)
    assert second["items"] and second["items"] != first["items"]


def _refused(api: Served, path: str, query: dict[str, str], cursor: str) -> None:
    reply = api.get(path, cursor=cursor, **query)
    assert reply.status == 400, (path, cursor[:60], reply.status, reply.body[:300])
    error = reply.json()["error"]
    assert error["code"] == "bad_parameter" and error["message"].startswith("cursor: "), error


@pytest.mark.parametrize("cursor", NOT_CURSORS + [opaque(k) for k in EVENT_KEYS])
def test_a_malformed_events_cursor_is_a_400_naming_it(api: Served, cursor: str) -> None:
    _refused(api, "/events", SPAN, cursor)


@pytest.mark.parametrize(("path", "cursor"), [
    *((path, c) for path in ("/devices", "/sports/games") for c in NOT_CURSORS + [opaque(k) for k in PAIR_KEYS]),
    *(("/entities", c) for c in NOT_CURSORS + [opaque(k) for k in SINGLE_KEYS])])
def test_a_malformed_catalog_or_games_cursor_is_a_400_naming_it(api: Served, path: str, cursor: str) -> None:
    _refused(api, path, {}, cursor)
