"""A delete that cuts a rollup bucket sums it again from the events left, their newest time too: what a device's
last seen and the activity over a range read, kept as µs after the bucket's start as writes keep it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from ingestor.timeutil import parse_timestamp
from tests.store import rollup_model as model
from tests.support.servers import store_url

DAYS = 6
START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=DAYS + 1)).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_newest_times_in_buckets_a_delete_cut_are_the_events_own(backend: str, tmp_path: Path,
                                                                 request: pytest.FixtureRequest) -> None:
    records = model.home(seed=31, start=START, hours=DAYS * 24, events=900).records
    store = open_event_store(store_url(backend, tmp_path, request))
    store.write(records)
    lo, hi = START + dt.timedelta(days=1, hours=5, minutes=7), START + dt.timedelta(days=3, hours=2, minutes=41)
    store.delete(lo, hi)
    kept = [r for r in records if not lo <= parse_timestamp(r["time_fired"]) < hi]
    for f in (EventFilter(start=lo - dt.timedelta(hours=3), end=hi + dt.timedelta(hours=3)),
              EventFilter(start=START, end=START + dt.timedelta(days=DAYS))):
        for group in ("entity_id", "device_id"):
            want = {key: acc[5] for (key, _), acc in model.values(kept, f, None, group).items() if key}
            got = {key: int(t.timestamp() * 1_000_000) for key, (_, t) in store.activity(f, group).items() if key}
            assert got == want, (f, group)
    store.close()
