"""Full never means lost: the real pipeline (validate → normalize → weather-enrich → write on PostgreSQL, in the local
runtime) with the store down fills the queue (a bound of 8 messages per subject), the bridge's outbox spools
to disk and says why in its health figures, and after the store comes back every event is stored exactly once.
About a minute (the runtime's start, the fill, the drain).
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from ha_bridge.batcher import Batch, encode_envelope
from ha_bridge.publisher import Outbox
from ha_bridge.spool import Spool
from ha_bridge.state import BridgeState
from ingestor import jsoncodec, subjects
from ingestor.bus import Bus
from tests.support.ha_events import many
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime, stack_of
from tests.support.servers import PostgresServer

pytestmark = pytest.mark.integration
BOUND, BATCHES, PER_BATCH = 8, 60, 10


def stored(url: str) -> tuple[int, int]:
    """(rows, distinct event ids) in the store; (-1, -1) while it is down or not yet made."""
    try:
        with psycopg.connect(url, connect_timeout=1) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT eid) FROM hot_events").fetchone()
            return (int(row[0]), int(row[1])) if row else (0, 0)
    except psycopg.Error:
        return -1, -1


def test_a_queue_filled_while_the_store_is_down_stores_every_event_once_after_recovery(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_MAX_MSGS_PER_SUBJECT", str(BOUND))  # the outbox's own view of the stream's bounds
    server = PostgresServer().start()
    url = server.new_database()
    stack = stack_of(tmp_path / "stack.yml", ("validate", "normalize", "weather-enrich", "write"))
    runtime = LocalRuntime(tmp_path, stack=stack, env={"EVENT_STORE_URL": url,
                                                       "STREAM_MAX_MSGS_PER_SUBJECT": str(BOUND)})
    bus: Bus | None = None
    outbox: Outbox | None = None
    try:
        runtime.start(timeout=120)
        server.stop()
        bus = Bus(runtime.nats_url, name="gateway-bridge")
        outbox = Outbox(bus, Spool(tmp_path / "bridge", 10**9), BridgeState(tmp_path / "bridge"), runtime.nats_url)
        outbox.start()
        events = many(BATCHES * PER_BATCH)
        for n in range(BATCHES):
            encoded = [jsoncodec.dumps(e) for e in events[n * PER_BATCH:(n + 1) * PER_BATCH]]
            assert outbox.put(Batch(subjects.RAW, f"full-{n}", encode_envelope(f"full-{n}", encoded), PER_BATCH,
                                    encoded=encoded))
            time.sleep(0.2)  # the stages hand on what they can meanwhile
        assert wait_for(lambda: outbox.figures()["queue_full"] and outbox.figures()["spool_depth"] > 0, 60), \
            outbox.figures()
        server.start()
        assert wait_for(lambda: stored(url)[0] >= len(events) and outbox.figures()["spool_depth"] == 0, 120), \
            (stored(url), outbox.figures())
        time.sleep(2)  # anything written twice would show by now
        assert stored(url) == (len(events), len(events))
        assert outbox.figures()["queue_full"] is False
    finally:
        if outbox is not None:
            outbox.close(grace=5)
        if bus is not None:
            bus.close()
        runtime.stop()
        server.cleanup()
