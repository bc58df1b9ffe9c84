"""InfluxDB finds a context's events by the one field compared, then reads those points whole: the same records,
in the same order, as the condition over every series and field returns (`SELECT *`, what it sent before)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import influxql as iql
from ingestor.store.influx import TRACE_AFTER, TRACE_BEFORE
from ingestor.store.lineprotocol import record_from
from ingestor.store.model import EventFilter
from tests.queries.dataset import HOUR, MIN, Home, ulid
from tests.store.conftest import opened

M = (dt.datetime.now(dt.UTC) - dt.timedelta(days=6)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(params=["influxdb1", "influxdb1-ha"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    event_store = opened(request.param, tmp_path, request)
    yield event_store
    event_store.close()


def chain() -> tuple[Home, str, str]:
    """A motion sensor's context whose automation run (with delays) fires across hours and days, beside a busy
    home's other events, each of its own context; one of the run's events has no entity (its series no tag)."""
    home = Home(M)
    trigger, run = ulid(M, "trigger"), ulid(M + dt.timedelta(seconds=1), "run")
    for i in range(300):  # every 20 minutes for four days, from a day before the trigger
        home.add("sensor.living_temperature", M - 24 * HOUR + i * 20 * MIN + dt.timedelta(seconds=7), f"{20 + i % 9}")
        home.add("light.kitchen", M - 24 * HOUR + i * 20 * MIN + dt.timedelta(seconds=11), "on" if i % 2 else "off")
    home.add("binary_sensor.bedroom_motion", M, "on", context=trigger)
    home.add(None, M + dt.timedelta(seconds=1), event_type="automation_triggered", context=run, parent=trigger,
             data={"name": "Motion Light"})
    home.add(None, M + dt.timedelta(seconds=2), event_type="call_service", context=run, parent=trigger,
             data={"domain": "light", "service": "turn_on"})
    home.add("switch.kitchen_plug", M + HOUR, "off")  # between the run's events in one of its series: not the run's
    home.add("switch.kitchen_plug", M + 2 * HOUR + dt.timedelta(seconds=3), "on", context=run, parent=trigger)
    home.add("script.night_plug", M + 30 * HOUR, "on", context=run, parent=trigger)  # the next day, another shard
    home.add("switch.kitchen_plug", M - TRACE_BEFORE - MIN, "off", context=run, parent=trigger)  # outside the window
    home.add("switch.kitchen_plug", M + TRACE_AFTER + 2 * HOUR, "off", context=run, parent=trigger)  # and after it
    home.records.sort(key=lambda r: r["time_fired"])
    return home, trigger, run


def scanned(store: Any, field: str, context_id: str) -> list[dict[str, Any]]:
    """The records `SELECT *` over every series finds, as the store read them before."""
    created = iql.ulid_time(context_id)
    assert created is not None
    window = iql.where(EventFilter(start=created - TRACE_BEFORE, end=created + TRACE_AFTER),
                       [f"{field} = {iql.string(context_id)}"])
    found = store._select(f"SELECT * FROM {store._events()} WHERE {window}")
    return sorted((record_from(dict(zip(s["columns"], v, strict=True)), v[0], s["name"])
                   for s in found for v in s.get("values", [])), key=lambda r: r["time_fired"])


def test_a_context_s_events_across_hours_and_days_are_those_a_scan_of_every_series_finds(store: Any) -> None:
    home, trigger, run = chain()
    store.write(home.records)
    found = store.by_context(run)
    assert found == scanned(store, '"context_id"', run)
    assert [r["event_id"] for r in found] == [r["event_id"] for r in home.records if r["context"]["id"] == run
                                              and M - TRACE_BEFORE <= dt.datetime.fromisoformat(r["time_fired"])
                                              < M + TRACE_AFTER]
    assert [r["event_type"] for r in found] == ["automation_triggered", "call_service", "state_changed",
                                                "state_changed"]


def test_the_events_naming_a_parent_are_those_a_scan_of_every_series_finds(store: Any) -> None:
    home, trigger, run = chain()
    store.write(home.records)
    children = store.by_parent(trigger)
    assert children == scanned(store, '"context_parent_id"', trigger)
    assert len(children) == 4 and {r["context"]["id"] for r in children} == {run}
    assert [r["entity_id"] for r in store.by_context(trigger)] == ["binary_sensor.bedroom_motion"]


def test_a_context_without_events_finds_none(store: Any) -> None:
    home, _, _ = chain()
    store.write(home.records)
    assert store.by_context(ulid(M, "nobody")) == [] and store.by_parent(ulid(M, "nobody")) == []
