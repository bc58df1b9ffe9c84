"""One bridge replica (BRIDGE_REPLICAS=1) killed mid-drive, through the whole pipeline, against the real HA 2024.3.3.

What a single replica guarantees (gateway-bridge/README.md, "What is guaranteed"): its gap's state changes come
back from HA's history and its automations, scripts and logbook entries from HA's logbook, each stored and
delivered once; the service calls HA fired while it was down are lost, those and no others, since HA keeps
them nowhere an API reads. Two replicas (test_bridge_zero_loss.py) lose none.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.recorder import EventRecorder
from ha_bridge.session import GAP_END_MARGIN
from ingestor.event_id import event_id
from tests.bridge.drive import DRIVEN, Driver, Pipeline, Window, now, recorder, running_pipeline, settled, tally
from tests.support.homeassistant import HomeAssistant
from tests.support.polling import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def single(ha: HomeAssistant, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(ha, tmp_path, replicas=1) as found:
        yield found


def calls_fired_between(listening: EventRecorder, start: dt.datetime, end: dt.datetime) -> set[str]:
    return {event_id(e) for _, e in list(listening.events)
            if e["event_type"] == "call_service" and start <= dt.datetime.fromisoformat(e["time_fired"]) < end}


def test_killing_the_only_replica_mid_drive_loses_only_the_service_calls_of_its_gap_and_duplicates_nothing(
        single: Pipeline) -> None:
    listening = recorder(single.ha)
    window = Window(now(), now())
    with Driver(single.ha) as driver:
        time.sleep(4)
        pid = single.runtime.bridge_pid("bridge-1")
        assert pid
        killed = now()
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: single.runtime.bridge_pid("bridge-1") not in (None, pid)
                        and single.health("bridge-1").get("subscribed"), 60), "bridge-1 did not come back"
        back = now()
        time.sleep(4)
    listening.quiet_for(2)
    window.end = now()
    listening.close()
    window.record(listening)
    recoverable = Window(window.start, window.end, {k: v for k, v in window.fired.items() if k != "call_service"})
    rows = settled(single.database, [recoverable])
    found = tally([window], rows, single.receiver)

    assert driver.steps > 50 and all(found.fired[kind] for kind in DRIVEN), found.rows()
    assert {kind for kind, n in found.lost.items() if n} == {"call_service"}, found.rows()
    backfill = single.health("bridge-1")["backfill"]
    assert backfill["pending_gaps"] == 0 and backfill["gaps_filled"] == 1, backfill
    gap = backfill["last_gap"]  # from the last durable event before the kill to the new subscription (+ a margin)
    start, end = dt.datetime.fromisoformat(gap["start"]), dt.datetime.fromisoformat(gap["end"]) - GAP_END_MARGIN
    assert start <= killed and end <= back, (gap, killed, back)
    lost_calls = window.fired["call_service"] - {r["event_id"] for r in rows}
    assert lost_calls <= calls_fired_between(listening, start, end), "a call fired while the bridge was up was lost"
    assert not sum(found.extra.values()) and found.twice_stored == 0, found.rows()
    assert (found.undelivered, found.twice_delivered, found.unverified) == (0, 0, 0)
