"""What the energy endpoints read from a SQL store: the meters' rises summed per hour in the database (a year is
8,760 rows, whatever the number of meters), never each meter's hourly rollup rows, over whole hours or not, and
over whole hours only the means of the context series (tests/queries/test_energy.py checks the figures
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


ENDPOINTS = {
    "hourly per hour": lambda store, r: energy.hourly(store, ENTITIES, r, 3600, None),
    "hourly per day": lambda store, r: energy.hourly(store, ENTITIES, r, 86_400, None),
    "correlation": lambda store, r: energy.correlation(store, ENTITIES, r, None),
    "impact": lambda store, r: energy.impact(store, ENTITIES, r, energy_home.SWITCH, "on", None),
    "recommendations": lambda store, r: energy.recommendations(store, ENTITIES, r)}


def _meter_reads(endpoint: str) -> list[str]:
    return ["meter_rises", "meter_totals"] if endpoint == "recommendations" else ["meter_totals"]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_an_endpoint_over_whole_hours_reads_the_meters_summed_rises_and_nothing_else_of_them(
        reads: Reads, home: energy_home.EnergyHome, endpoint: str) -> None:
    ENDPOINTS[endpoint](reads, Range(home.t0, home.t0 + dt.timedelta(hours=energy_home.HOURS)))
    assert reads.of_meters() == _meter_reads(endpoint)
    assert "series_columns" not in {name for name, _ in reads.asked}  # the context series' means alone too


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_an_endpoint_over_a_range_ending_mid_hour_reads_the_meters_summed_rises_too(
        reads: Reads, home: energy_home.EnergyHome, endpoint: str) -> None:
    """As the dashboard's ranges end now: the hours cut at either end are read from the rises' raw readings in
    the store, never each meter's hourly min/max. (From minute 17: the first hour keeps its :30 price, so every
    hour of the day has prices on two days and recommendations read the peak hours' rises.)"""
    ENDPOINTS[endpoint](reads, Range(home.t0 + dt.timedelta(minutes=17),
                                     home.t0 + dt.timedelta(hours=energy_home.HOURS - 1, minutes=23)))
    assert reads.of_meters() == _meter_reads(endpoint)
