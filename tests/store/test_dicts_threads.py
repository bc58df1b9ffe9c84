"""The SQL store's dictionaries shared by threads (a durations answer reads its items and its sample at once): a
walk over the series while another thread learns new ones goes on over those it began with."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ingestor import normalization
from ingestor.store.model import EventFilter
from tests.store.conftest import opened
from tests.support.ha_events import state_changed

T0 = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def light(i: int) -> dict[str, Any]:
    return normalization.normalize_event(state_changed(f"light.l{i}", "off", "on", T0 + dt.timedelta(minutes=i),
                                                       unit=None))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_walk_over_the_series_is_not_broken_by_series_learnt_meanwhile(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    writer = opened(backend, tmp_path, request)
    reader = type(writer)(writer.url)
    try:
        writer.write([light(i) for i in range(3)])
        reader.count(EventFilter(entity_id="light.l0"))  # the reader learns the three series
        known = list(reader.dicts.series.items())
        walk = iter(reader.dicts.series.items())
        first = next(walk)
        writer.write([light(3)])  # a series the reader does not know yet
        with reader.engine.connect() as conn:
            reader.dicts.refresh_series(conn)
        assert [first, *walk] == known
        assert {values[1] for values in reader.dicts.series.values()} == {f"light.l{i}" for i in range(4)}
    finally:
        reader.close()
        writer.close()
