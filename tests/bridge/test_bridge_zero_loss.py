"""Zero loss with two bridge replicas, through the whole pipeline, against the real HA 2024.3.3.

The local runtime runs both replicas (as `make run` does) and validate → normalize → weather-enrich → write
(SQLite) and webhook-dispatch, with one webhook for every HA event and a receiver that verifies each
signature. A driver causes events of every kind through HA's REST API (state changes, service calls, an
automation whose runs have a parent context, a script, logbook entries); a client of its own on HA's
WebSocket records what HA fired. Under each fault, per event type: what HA fired = what is stored, by
event id, none twice; and the webhook received each exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.bridge.drive import DRIVEN, Driver, Pipeline, Tally, Window, now, recorder, running_pipeline, settled, tally
from tests.support.homeassistant import HomeAssistant
from tests.support.polling import wait_for

pytestmark = pytest.mark.integration

LIFECYCLE = ("homeassistant_start", "homeassistant_stop")
REPLICAS = ("bridge-1", "bridge-2")


@pytest.fixture(scope="module")
def pipeline(ha: HomeAssistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(ha, tmp_path_factory.mktemp("zero-loss"), replicas=2) as found:
        yield found


def assert_perfect(found: Tally) -> None:
    assert found.perfect, {"per type": found.rows(), "stored twice": found.twice_stored,
                           "undelivered": found.undelivered, "delivered twice": found.twice_delivered,
                           "unverified": found.unverified}
    assert all(found.fired[kind] for kind in DRIVEN), f"the drive did not fire every type: {found.rows()}"


def kill(pipeline: Pipeline, replica: str) -> None:
    """SIGKILL a replica mid-drive and wait until the runtime has it subscribed to HA again."""
    pid = pipeline.runtime.bridge_pid(replica)
    assert pid, f"{replica} is not running"
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: pipeline.runtime.bridge_pid(replica) not in (None, pid)
                    and pipeline.health(replica).get("subscribed"), 60), f"{replica} did not come back"


def test_killing_each_replica_in_turn_mid_drive_loses_nothing_and_stores_and_delivers_each_event_once(
        pipeline: Pipeline) -> None:
    listening = recorder(pipeline.ha)
    window = Window(now(), now())
    with Driver(pipeline.ha) as driver:
        time.sleep(4)
        kill(pipeline, "bridge-1")
        time.sleep(3)  # bridge-1 back and catching up: its gap is what bridge-2 forwarded live
        kill(pipeline, "bridge-2")
        time.sleep(3)
    listening.quiet_for(2)
    window.end = now()
    listening.close()
    window.record(listening)
    assert_perfect(tally([window], settled(pipeline.database, [window]), pipeline.receiver))
    assert driver.steps > 50
    for replica in REPLICAS:  # each one's gap was found on the stream, forwarded live by the other
        backfill = pipeline.health(replica)["backfill"]
        assert backfill["pending_gaps"] == 0 and backfill["gaps_filled"] >= 1, backfill
        assert backfill["already_forwarded"] > 0, backfill


def test_an_ha_restart_mid_drive_is_recorded_from_ha_s_logbook_and_loses_nothing(pipeline: Pipeline) -> None:
    before = recorder(pipeline.ha)
    first = Window(now(), now())
    with Driver(pipeline.ha):
        time.sleep(4)
        first.end = now()
        pipeline.ha.restart()
        after = recorder(pipeline.ha)
        second = Window(now(), now())
        assert wait_for(pipeline.all_subscribed, 30), [pipeline.health(r) for r in REPLICAS]
        time.sleep(4)
    after.quiet_for(2)
    second.end = now()
    before.close()
    after.close()
    windows = [first.record(before), second.record(after)]
    rows = settled(pipeline.database, windows)
    assert_perfect(tally(windows, rows, pipeline.receiver))
    restart = [r for r in rows if first.end <= dt.datetime.fromisoformat(r["time_fired"]) < second.start]
    lifecycle = Counter(r["event_type"] for r in restart if r["event_type"] in LIFECYCLE)
    assert lifecycle == {"homeassistant_stop": 1, "homeassistant_start": 1}, lifecycle
    stop = next(r for r in restart if r["event_type"] == "homeassistant_stop")
    assert stop["backfill"] == {"source": "logbook", "unknown": ["id", "parent_id"]}


def test_nats_down_for_60_s_mid_drive_loses_nothing_and_stores_and_delivers_each_event_once(
        pipeline: Pipeline) -> None:
    listening = recorder(pipeline.ha)
    window = Window(now(), now())
    with Driver(pipeline.ha):
        time.sleep(3)
        with pipeline.runtime.nats_held_down():
            assert wait_for(lambda: all(pipeline.health(r).get("spool_depth", 0) > 0 for r in REPLICAS), 20)
            time.sleep(57)
        time.sleep(5)
    listening.quiet_for(2)
    window.end = now()
    listening.close()
    window.record(listening)
    assert_perfect(tally([window], settled(pipeline.database, [window], timeout=240), pipeline.receiver))
    assert all(pipeline.health(r)["spool_depth"] == 0 for r in REPLICAS)
