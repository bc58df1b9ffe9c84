"""The real pipeline (stack.yml's validate → normalize → weather-enrich → write, SQLite, in the local runtime)
working off a backlog: write's queued messages reach it in coalesced calls, and every event is stored once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingestor import subjects
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.support.ha_events import many
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime, stack_of

pytestmark = pytest.mark.integration
BATCHES, PER_BATCH, PREFIX = 12, 10, "sensor.coalesced"
WRITE = subjects.durable_name("write", subjects.ENRICHED)


def test_a_backlog_reaches_write_in_coalesced_calls_and_every_event_is_stored_once(tmp_path: Path) -> None:
    stack = stack_of(tmp_path / "stack.yml", ("validate", "normalize", "weather-enrich", "write"))
    with LocalRuntime(tmp_path, stack=stack, env={"EVENT_STORE_URL": "", "METADATA_DB_URL": ""}) as runtime:
        js = JetStreamClient(runtime.nats_url)
        try:
            events = many(BATCHES * PER_BATCH, prefix=PREFIX)
            with js.held(WRITE):
                for n in range(BATCHES):
                    js.publish_batch(subjects.RAW, f"coalesced-{n}", events[n * PER_BATCH:(n + 1) * PER_BATCH])
                assert wait_for(lambda: js.backlog(WRITE)[0] == BATCHES, 60), js.backlog(WRITE)
            store = open_event_store(f"sqlite:///{runtime.workdir}/data/events.db")
            assert wait_for(lambda: store.count(EventFilter(text=PREFIX)) >= len(events), 60)
            time.sleep(1.5)  # anything stored twice would show by now
            assert store.count(EventFilter(text=PREFIX)) == len(events)
            assert js.backlog(WRITE) == (0, 0)
            assert sample(f"{runtime.gateway}/metrics", "ha_ingestor_connector_coalesced_calls_total",
                          function="write", outcome="ok") >= 1
            assert sample(f"{runtime.gateway}/metrics", "ha_ingestor_connector_messages_total",
                          function="write", topic=subjects.ENRICHED, outcome="acked") == BATCHES
        finally:
            js.close()
