"""PostgreSQL is given a long list of series ids as one INTEGER[] parameter, sent as the array's text (psycopg
dumps a Python list id by id): the statement's parameter is typed so, and the rows found are those of the list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ingestor import normalization
from ingestor.store.model import EventFilter
from ingestor.store.sqlread import LONG_LIST
from tests.store.conftest import opened
from tests.support.ha_events import state_changed

T0 = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
LIGHTS = [f"light.l{i}" for i in range(LONG_LIST + 8)]  # more series than a list is sent as


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened("postgresql", tmp_path, request)
    event_store.write([normalization.normalize_event(state_changed(entity, "off", "on", T0 + dt.timedelta(minutes=i),
                                                                   unit=None)) for i, entity in enumerate(LIGHTS)])
    yield event_store
    event_store.close()


def test_a_long_list_of_series_goes_to_postgresql_as_the_text_of_one_integer_array(store: Any) -> None:
    sent: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", seen)
    groups = store.stay_groups(EventFilter(domain="light", start=T0, end=T0 + dt.timedelta(days=1)))
    event.remove(store.engine, "before_cursor_execute", seen)
    assert sorted((g.entity_id, g.state, g.durations) for g in groups) == sorted((e, "off", [30.0]) for e in LIGHTS)
    arrays = [value for statement, parameters in sent if "::INTEGER[]" in statement and isinstance(parameters, dict)
              for value in parameters.values() if isinstance(value, str) and value.startswith("{")]
    assert arrays
    assert all(len(value.strip("{}").split(",")) > LONG_LIST for value in arrays)
