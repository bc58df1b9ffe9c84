"""A writer killed at any moment leaves events and rollups agreeing: both are written in one transaction, so
a kill leaves neither half (and compaction, killed too, leaves every event in exactly one tier)."""

from __future__ import annotations

import datetime as dt
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from ingestor.store.timerange import to_micros
from tests.store import rollup_model as model
from tests.store.stays import block_days, newest_first, packed_days
from tests.support.runtime import REPO

pytestmark = pytest.mark.integration
START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)

WRITER = """
import sys, datetime as dt
sys.path[:0] = [{paths}]
from ingestor.store import open_event_store
from tests.store import rollup_model
history = rollup_model.home(seed={seed}, start=dt.datetime.fromisoformat({start!r}), hours=72, events=6000)
store = open_event_store({url!r})
print("open", flush=True)
while True:
    for batch in history.batches:
        store.write(batch)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return request.getfixturevalue("postgres").new_database()


def kill_midway(url: str, seed: int, after: float) -> None:
    paths = ", ".join(repr(str(p)) for p in (REPO / "functions" / "common", REPO / "infra" / "local", REPO))
    child = subprocess.Popen([sys.executable, "-c", WRITER.format(paths=paths, seed=seed, start=START.isoformat(),
                                                                  url=url)], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().strip() == b"open"
    time.sleep(after)
    child.send_signal(signal.SIGKILL)
    child.wait()


def stored(store: Any) -> list[dict[str, Any]]:
    return [r for b in store.export(START - dt.timedelta(days=1), START + dt.timedelta(days=4)) for r in b]


def test_a_writer_killed_at_any_moment_leaves_rollups_equal_to_the_events(url: str) -> None:
    rng = random.Random(99)
    for round_ in range(4):
        kill_midway(url, seed=round_ % 2, after=rng.uniform(0.5, 2.5))
        store = open_event_store(url)
        events = stored(store)
        assert len({r["event_id"] for r in events}) == len(events)  # no event in both tiers, none twice
        for width in (300, 3600, 86_400):
            want = model.values(events, EventFilter(), width, None)
            got = {int(a.start.timestamp()) * 1_000_000: (a.count, a.value_count) for a in
                   store.stats(EventFilter(), width)}
            assert got == {bucket: (acc[0], acc[1]) for (_, bucket), acc in want.items()}, (round_, width)
        assert store.count(EventFilter()) == len(events)
        store.close()
    assert len(events) > 0


def test_a_writer_killed_at_any_moment_leaves_every_compacted_day_s_stays_packed_as_its_blocks_hold_them(
        url: str) -> None:
    """Compaction writes a (series, day)'s packed stays in the transaction of its blocks: a kill between two
    leaves no day with blocks and without its stays, nor stays the blocks do not hold."""
    rng = random.Random(15)
    for round_ in range(3):
        kill_midway(url, seed=round_ % 2, after=rng.uniform(1.0, 3.0))
        store = open_event_store(url)
        assert packed_days(store) == block_days(store), round_
        f = EventFilter(start=START - dt.timedelta(days=1), end=START + dt.timedelta(days=4))
        got = [(s.entity_id, s.state, to_micros(s.time), s.duration, s.event_id)
               for s in newest_first(store.stay_groups(f, 10**6))]
        assert got == model.stays(stored(store), f), round_
        store.close()
    assert block_days(store)
