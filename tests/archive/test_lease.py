"""One archive job at a time across processes: the NATS KV lease refuses a second job naming the holder and
since when, and frees itself when its holder is killed -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from ingestor import bus as buses
from ingestor.archive.errors import ArchiveError, Busy
from ingestor.archive.jobs import Jobs
from ingestor.archive.lease import Lease, holder
from ingestor.archive.progress import Progress
from localfaas.natsserver import NatsServer
from tests.archive.conftest import NOW, OLD, OLD_DAYS, day_records, settings_for
from tests.support.runtime import REPO
from tests.support.s3servers import S3Server

pytestmark = pytest.mark.integration


@pytest.fixture()
def nats_bus(nats: NatsServer) -> Iterator[buses.Bus]:
    bus = buses.Bus(nats.url, name="archive-lease-test")
    yield bus
    bus.close()


def test_a_second_job_is_refused_naming_the_holder_and_since_when(
        s3server: S3Server, bucket_name: str, nats_bus: buses.Bus) -> None:
    current = settings_for(s3server.endpoint, bucket_name, s3server)
    first = Lease(current, Progress("run"), nats_bus).acquire()
    try:
        with pytest.raises(Busy) as refused:
            Lease(current, Progress("restore"), nats_bus).acquire()
        assert refused.value.holder == first.holder and f"pid {os.getpid()}" in first.holder
        assert refused.value.since == first.since and refused.value.action == "run"
        assert f"run by {first.holder} since {first.since}" in str(refused.value)
        assert holder(current, nats_bus)["holder"] == first.holder
    finally:
        first.release()
    assert holder(current, nats_bus) is None
    Lease(current, Progress("restore"), nats_bus).acquire().release()  # free again


def test_a_run_while_another_job_runs_is_refused_and_changes_nothing(
        s3server: S3Server, bucket_name: str, nats_bus: buses.Bus, sqlite_store: Any) -> None:
    sqlite_store.write(day_records(OLD_DAYS[0]))
    current = settings_for(s3server.endpoint, bucket_name, s3server)
    jobs = Jobs(current, sqlite_store, nats_bus)
    with Lease(current, Progress("restore"), nats_bus), pytest.raises(Busy, match="restore by"):
        jobs.run(now=NOW)
    assert sqlite_store.count(OLD) == 48
    report, _ = jobs.run(now=NOW)
    assert report.ok and sqlite_store.count(OLD) == 0


HOLD = """
import sys, time
from ingestor import bus
from ingestor.archive.lease import Lease
from ingestor.archive.progress import Progress
from tests.archive.conftest import settings_for
from tests.support.s3servers import S3_SERVERS
server = S3_SERVERS["seaweedfs"]()
settings = settings_for("http://127.0.0.1:1", sys.argv[2], server, lease_s=float(sys.argv[3]))
Lease(settings, Progress("run"), bus.Bus(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_holder_killed_minus_9_frees_the_lease_once_it_expires(
        s3server: S3Server, bucket_name: str, nats: NatsServer, nats_bus: buses.Bus) -> None:
    current = settings_for(s3server.endpoint, bucket_name, s3server, lease_s=3.0)
    env = {**os.environ, "PYTHONPATH": f"{REPO}/functions/common:{REPO}/infra/local:{REPO}"}
    child = subprocess.Popen([sys.executable, "-c", HOLD, nats.url, bucket_name, "3"], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match=f"pid {child.pid}"):
            Lease(current, Progress("run"), nats_bus).acquire()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        killed_at = time.monotonic()
        with pytest.raises(Busy):  # its last renewal still stands
            Lease(current, Progress("run"), nats_bus).acquire()
        while True:
            try:
                Lease(current, Progress("run"), nats_bus).acquire().release()
                break
            except Busy:
                assert time.monotonic() - killed_at < 3.0 + 5, "the dead holder's lease never expired"
                time.sleep(0.2)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_a_holder_that_cannot_renew_stops_before_its_next_destructive_step(
        s3server: S3Server, bucket_name: str, nats_bus: buses.Bus) -> None:
    current = settings_for(s3server.endpoint, bucket_name, s3server, lease_s=2.0)
    lease = Lease(current, Progress("run"), nats_bus).acquire()
    lease._stop.set()  # its heartbeat stops, as when NATS is unreachable from it
    lease.check()
    time.sleep(1.6)
    with pytest.raises(ArchiveError, match="not renewed"):
        lease.check()
    lease.release()


def test_without_nats_a_job_is_refused_with_where_it_looked(s3server: S3Server, bucket_name: str,
                                                            sqlite_store: Any) -> None:
    from localfaas.natsserver import free_port

    current = replace(settings_for(s3server.endpoint, bucket_name, s3server))
    nowhere = buses.Bus(f"nats://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ArchiveError, match="NATS_URL"):
            Jobs(current, sqlite_store, nowhere).run(now=NOW)
    finally:
        nowhere.close()
