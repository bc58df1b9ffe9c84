"""What the energy endpoints read from a SQL store over whole hours: the meters' rises summed per hour in the
database (a year is 8,760 rows, whatever the number of meters), never each meter's hourly rollup rows nor its
raw readings, and only the means of the context series (tests/queries/test_energy.py checks the figures
themselves against the raw readings)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.queries import energy
from ingestor.queries.params import Range
from tests.queries import energy_home
from tests.store.conftest import opened

ENTITIES = [{"entity_id": e, "name": n, "area_name": None, "device_class": c, "unit_of_measurement": u}
            for e, n, c, u in energy_home.ENTITIES]


class Reads:
    """The store, with the entities each of its reads asked about (a real store answers every one)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.store, name)
        if not callable(found):
            return found

        def read(*args: Any, **kwargs: Any) -> Any:
            first = args[0] if args else None
            entities = (first.entity_id,) if hasattr(first, "entity_id") else tuple(first or ()) \
                if isinstance(first, list | dict) else ()
            self.asked.append((name, entities))
            return found(*args, **kwargs)

        return read

    def of_meters(self) -> list[str]:
        """The reads that asked about a meter, by method."""
        return sorted({name for name, entities in self.asked if set(entities) & set(energy_home.METERS)})


@pytest.fixture(scope="module")
def home() -> energy_home.EnergyHome:
    return energy_home.build()


@pytest.fixture(params=["sqlite", "postgresql"])
def reads(request: pytest.FixtureRequest, tmp_path: Path, home: energy_home.EnergyHome) -> Iterator[Reads]:
    store = opened(request.param, tmp_path, request)
    store.write(home.records)
    yield Reads(store)
    store.close()


@pytest.mark.parametrize("endpoint", ["hourly per hour", "hourly per day", "correlation", "impact",
                                      "recommendations"])
def test_an_endpoint_over_whole_hours_reads_the_meters_summed_rises_and_nothing_else_of_them(
        reads: Reads, home: energy_home.EnergyHome, endpoint: str) -> None:
    r = Range(home.t0, home.t0 + dt.timedelta(hours=energy_home.HOURS))
    {"hourly per hour": lambda: energy.hourly(reads, ENTITIES, r, 3600, None),  # type: ignore[arg-type]
     "hourly per day": lambda: energy.hourly(reads, ENTITIES, r, 86_400, None),  # type: ignore[arg-type]
     "correlation": lambda: energy.correlation(reads, ENTITIES, r, None),  # type: ignore[arg-type]
     "impact": lambda: energy.impact(reads, ENTITIES, r, energy_home.SWITCH, "on", None),  # type: ignore
     "recommendations": lambda: energy.recommendations(reads, ENTITIES, r)}[endpoint]()  # type: ignore
    expected = ["meter_rises", "meter_totals"] if endpoint == "recommendations" else ["meter_totals"]
    assert reads.of_meters() == expected
    assert "series_columns" not in {name for name, _ in reads.asked}  # the context series' means alone too


def test_a_range_that_is_not_whole_hours_reads_the_meters_hours_as_before(
        reads: Reads, home: energy_home.EnergyHome) -> None:
    r = Range(home.t0 + dt.timedelta(minutes=30), home.t0 + dt.timedelta(hours=energy_home.HOURS))
    body = energy.hourly(reads, ENTITIES, r, 3600, None)  # type: ignore[arg-type]
    assert "series_columns" in reads.of_meters()
    assert body["total_kwh"] > 0
