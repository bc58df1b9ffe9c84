"""A 90 s store outage through the real runtime (tests.connector.storeoutage: stack.yml's write on a
stopped PostgreSQL and on a locked SQLite file at once, 20 events/s): writing resumes within 5 s of the
database answering again, nothing is lost or written twice, and the outage is logged once when it starts
and once when it ends. About 2 minutes (the outage is real time: the connector's backoff grew with it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.connector import storeoutage
from tests.connector.storeoutage import Outage

pytestmark = pytest.mark.integration
OUTAGE_S, RATE = 90, 20
RESUME_WITHIN_S = 5
OUTAGE_STARTED = "function unavailable or timing out; its messages wait and are retried"
OUTAGE_ENDED = "function answers again"
SEEN_WITHIN_S = 40
"""A stopped PostgreSQL is a 503 at once; a locked SQLite file keeps the write waiting, so its outage is seen
when the first call times out (write's 30 s and the connector's 5 s more)."""


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    yield storeoutage.run(tmp_path_factory.mktemp("store-outage"), OUTAGE_S, RATE)


@pytest.mark.parametrize("writer", ["write-pg", "write-sqlite"])
def test_writing_resumes_within_5_s_of_the_database_answering_after_a_90_s_outage(
        outage: Outage, writer: str, record_property: Callable[[str, Any], None]) -> None:
    store = outage.stores[writer]
    resumed = store.resumed_after()
    record_property(f"{writer}_resumed_after_s", resumed)
    print(f"\n{writer}: writing resumed {resumed if resumed is None else round(resumed, 1)} s after the database "
          f"answered again ({OUTAGE_S} s outage)")
    assert resumed is not None and resumed <= RESUME_WITHIN_S


@pytest.mark.parametrize("writer", ["write-pg", "write-sqlite"])
def test_nothing_published_during_the_outage_is_lost_or_written_twice(outage: Outage, writer: str) -> None:
    assert outage.stores[writer].written == outage.published


@pytest.mark.parametrize("writer", ["write-pg", "write-sqlite"])
def test_the_outage_is_logged_once_when_it_starts_and_once_when_it_ends(outage: Outage, writer: str) -> None:
    connector = [e for e in logged(outage.log)
                 if e.get("logger") == "ha_connector.topics" and e.get("function") == writer]
    assert [e["msg"] for e in connector if e["msg"].startswith("function unavailable")] == [OUTAGE_STARTED], connector
    (ended,) = [e for e in connector if e["msg"] == OUTAGE_ENDED]
    assert OUTAGE_S - SEEN_WITHIN_S <= ended["seconds"] <= OUTAGE_S + RESUME_WITHIN_S and ended["failures"] >= 1


def logged(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
