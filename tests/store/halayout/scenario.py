"""One side-by-side run: the real HA 2024.3.3 with its `influxdb:` integration writes database A, HA Ingestor with
layout=homeassistant and the same configuration.yaml writes database B, from the same changes of the same home.

API v1 writes go to the real InfluxDB 1.6. For API v2 (no 2.x server can run here) both write to a stand-in that
keeps the requests; each side's requests are then replayed, with the precision they were sent with, into its own
database on the real InfluxDB 1.6 (2.x parses line protocol alike), so what each write stores is compared.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.driver import HAClient
from demo.recorder import EventRecorder
from ingestor import normalization
from ingestor.store import haconfig, open_event_store
from tests.store.halayout import home, snapshot
from tests.support.homeassistant import HomeAssistant, ensure_venv
from tests.support.influxdb2 import InfluxDB2StandIn
from tests.support.servers import InfluxDB1Server

V1_PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}  # a v2 write's precision, as the v1 API names it


@dataclass
class SideBySide:
    a: str  # HA's database
    b: str  # HA Ingestor's
    events: list[dict[str, Any]]  # the state_changed events HA fired while driven
    differences: list[str]  # between A and B, HA Ingestor's own measurements of events left out of B


def start_ha(workdir: Path, block: str, files: dict[str, str] | None = None) -> HomeAssistant:
    ensure_venv()
    return HomeAssistant(workdir / "homeassistant", write_config=home.configure(block, files)).start(timeout=180)


def quiet(count: Any, seconds: float = 3, timeout: float = 60) -> None:
    """Until count() has not changed for `seconds`."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() - since < seconds:
        assert time.monotonic() < deadline, "HA's integration kept writing"
        time.sleep(0.5)
        now = count()
        if now != last:
            last, since = now, time.monotonic()


def record_drive(ha: HomeAssistant, before: Any, rest: list[tuple[str, str, dict[str, Any]]] | None = None
                 ) -> list[dict[str, Any]]:
    """`before()` once what HA wrote while starting is written (A is then emptied of it); then the drive, and
    the state_changed events HA fired meanwhile, once it has gone quiet."""
    recorder = EventRecorder(ha.ws_url, ha.token or "", ("state_changed",))
    try:
        before()
        recorder.quiet_for(1)
        mark = len(recorder.events)
        client = HAClient(ha.url, ha.token or "")
        home.drive(client, rest)
        client.close()
        recorder.quiet_for(2)
        return [event for _, event in recorder.events[mark:]]
    finally:
        recorder.close()


def write_b(url: str, config: Path, events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """HA Ingestor's write of the same events, with INFLUXDB_HA_CONFIG pointing at HA's configuration.yaml."""
    monkeypatch.setenv(haconfig.SETTING, str(config))
    store = open_event_store(url)
    store.write([normalization.normalize_event(e) for e in events])
    store.close()


def compared(server: InfluxDB1Server, a: str, b: str) -> list[str]:
    return snapshot.differences(snapshot.snapshot(server, a),
                                snapshot.snapshot(server, b, snapshot.own_measurements(server, b)))


def run_v1(server: InfluxDB1Server, workdir: Path, block: str, monkeypatch: pytest.MonkeyPatch,
           files: dict[str, str] | None = None, rest: list[tuple[str, str, dict[str, Any]]] | None = None
           ) -> SideBySide:
    """`block` is the `influxdb:` block with {port} and {database} left to fill in. Compared once A has not
    changed for 3 s, while HA still runs (what it writes while stopping is no part of the drive)."""
    a = snapshot.create(server, f"ha_{uuid.uuid4().hex[:8]}")
    b = f"ingestor_{uuid.uuid4().hex[:8]}"
    ha = start_ha(workdir, block.format(port=server.port, database=a), files)
    try:
        events = record_drive(ha, lambda: snapshot.emptied(server, a), rest)
        write_b(f"{server.url(b)}?layout=homeassistant", ha.config_dir / "configuration.yaml", events, monkeypatch)
        quiet(lambda: snapshot.point_count(server, a))
        return SideBySide(a, b, events, compared(server, a, b))
    finally:
        ha.stop()


def run_v2(server: InfluxDB1Server, stand_in: InfluxDB2StandIn, workdir: Path, block: str,
           monkeypatch: pytest.MonkeyPatch, rest: list[tuple[str, str, dict[str, Any]]] | None = None) -> SideBySide:
    """`block` has {port} (the stand-in's) left to fill in and writes to bucket `ha`."""
    ha = start_ha(workdir, block.format(port=stand_in.port))
    try:
        started: list[int] = []
        events = record_drive(ha, lambda: (quiet(lambda: len(stand_in.writes("ha"))),
                                           started.append(len(stand_in.writes("ha")))), rest)
        monkeypatch.setenv("INFLUXDB_TOKEN", "ingestor-token")
        write_b(f"influxdb2://127.0.0.1:{stand_in.port}/ingestor?org=home&layout=homeassistant",
                ha.config_dir / "configuration.yaml", events, monkeypatch)
        quiet(lambda: len(stand_in.writes("ha")))
    finally:
        ha.stop()
    a, b = (snapshot.create(server, f"{side}_{uuid.uuid4().hex[:8]}") for side in ("ha", "ingestor"))
    for db, requests in ((a, stand_in.writes("ha")[started[0]:]), (b, stand_in.writes("ingestor"))):
        for request in requests:
            snapshot.write(server, db, request["body"], V1_PRECISION[request["query"]["precision"][0]])
    return SideBySide(a, b, events, compared(server, a, b))
