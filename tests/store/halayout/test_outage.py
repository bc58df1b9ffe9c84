"""An InfluxDB outage mid-drive: Home Assistant's own integration loses what changed meanwhile, HA Ingestor (the
real pipeline: bridge → NATS → validate → normalize → weather-enrich → write, layout=homeassistant) loses nothing.

The real HA 2024.3.3 writes database A with its `influxdb:` integration; HA Ingestor writes database B on the same
InfluxDB 1.6 from the same configuration.yaml. InfluxDB is stopped for 30 s while a sensor changes 25 times a
second for 40 s. Both counts are recorded (junit properties `ha_points`, `ingestor_points`, and printed).
About 2 minutes: HA and the stack start (~30 s), the drive (40 s), the pipeline catching up after the outage.

B holds every point HA kept of a change made once the bridge had subscribed, identical. A change HA made before
HA Ingestor first ran is not HA Ingestor's to capture: a first start has no cursor, so no gap to backfill
(gateway-bridge/README.md, "What it does on every connection"). A can hold such points from HA's own start (its
integration may be listening before the demo sensors are added: once, on a loaded machine, tv_plug_power's
initial 0.4 W), so the test makes one such change on every run, before the stack starts, and the boundary is
always exercised rather than only under load.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from demo.driver import HAClient
from demo.readiness import bridge_subscribed
from tests.store.halayout import snapshot
from tests.store.halayout.home import PLUG_POWER
from tests.store.halayout.scenario import quiet, start_ha
from tests.support.runtime import LocalRuntime, stack_of
from tests.support.servers import InfluxDB1Server

pytestmark = pytest.mark.integration

PROBE = "sensor.outage_probe"
RATE, DRIVE_S, OUTAGE_FROM_S, OUTAGE_S = 25, 40, 5, 30
BEFORE_VALUE = 12.5  # tv_plug_power (W), set before HA Ingestor starts: HA's past, not HA Ingestor's to capture
BLOCK = "host: 127.0.0.1\nport: {port}\ndatabase: {database}\n"


def drive(client: HAClient, values: list[int], on_second: dict[int, Callable[[], None]]) -> None:
    """One probe change every 1/RATE s; on_second[n] runs (in its own thread) when second n of the drive starts."""
    started = time.monotonic()
    threads = []
    for i, value in enumerate(values):
        second = i // RATE
        if i % RATE == 0 and second in on_second:
            threads.append(threading.Thread(target=on_second[second]))
            threads[-1].start()
        client.request("POST", f"/api/states/{PROBE}", {"state": str(value), "attributes": {
            "unit_of_measurement": "W", "friendly_name": "Outage probe", "sample": i}})
        time.sleep(max(0.0, started + (i + 1) / RATE - time.monotonic()))
    for thread in threads:
        thread.join()


def before_stack_points(server: InfluxDB1Server, db: str) -> int:
    series = snapshot.influxql(server, db, f'SELECT count("value") FROM "W" WHERE "value" = {BEFORE_VALUE}')
    return series[0]["values"][0][1] if series else 0


def probe_points(server: InfluxDB1Server, db: str) -> int:
    series = snapshot.influxql(server, db, 'SELECT count("value") FROM "W" WHERE "entity_id" = \'outage_probe\'')
    return series[0]["values"][0][1] if series else 0


def test_an_influxdb_outage_loses_has_points_but_none_of_ha_ingestors(
        tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    server = InfluxDB1Server().start()
    a = snapshot.create(server, f"ha_{uuid.uuid4().hex[:8]}")
    b = f"ingestor_{uuid.uuid4().hex[:8]}"
    ha = start_ha(tmp_path, BLOCK.format(port=server.port, database=a))
    runtime = None
    try:
        client = HAClient(ha.url, ha.token or "")
        client.call("ingestor_demo", "set", entity_id=PLUG_POWER, value=BEFORE_VALUE)
        deadline = time.monotonic() + 30
        while not before_stack_points(server, a):
            assert time.monotonic() < deadline, f"HA's integration kept no point of {PLUG_POWER} within 30 s"
            time.sleep(0.2)
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets" / "ha-token").write_text(ha.token or "")
        stack = stack_of(tmp_path / "stack.yml", ("validate", "normalize", "weather-enrich", "write"))
        runtime = LocalRuntime(tmp_path, stack=stack, env={
            "HA_URL": ha.url, "BRIDGE_BATCH_MS": "50", "EVENT_STORE_URL": f"{server.url(b)}?layout=homeassistant",
            "INFLUXDB_HA_CONFIG": str(ha.config_dir / "configuration.yaml")}).start(timeout=180)
        deadline = time.monotonic() + 60
        while not bridge_subscribed(runtime.ready["bridge"]):
            assert time.monotonic() < deadline, "the bridge did not subscribe to HA within 60 s"
            time.sleep(0.2)
        subscribed_ns = time.time_ns()  # every change from here on is HA Ingestor's to capture (HA's clock is ours)

        values = list(range(1000, 1000 + RATE * DRIVE_S))
        drive(client, values, {OUTAGE_FROM_S: lambda: (server.stop(), time.sleep(OUTAGE_S), server.start())})
        client.close()

        deadline = time.monotonic() + 120  # redeliveries back off up to 32 s while InfluxDB is away
        while probe_points(server, b) < len(values) and time.monotonic() < deadline:
            time.sleep(1)
        quiet(lambda: probe_points(server, a))
        ha_points, ingestor_points = probe_points(server, a), probe_points(server, b)
        points = snapshot.snapshot(server, a)["W"].points
        kept = {point for point in points if point[0] >= subscribed_ns}
        missing = kept - set(snapshot.snapshot(server, b)["W"].points)
    finally:
        if runtime is not None:
            runtime.stop()
        ha.stop()
        server.cleanup()
    record_property("changes", len(values))
    record_property("ha_points", ha_points)
    record_property("ingestor_points", ingestor_points)
    print(f"\n{len(values)} changes, InfluxDB away {OUTAGE_S} s: HA's integration kept {ha_points}, "
          f"HA Ingestor {ingestor_points}")
    assert ingestor_points == len(values)
    assert sum(("entity_id", "outage_probe") in tags for _, tags, _ in kept) == ha_points  # the drive all checked
    assert any(dict(fields)["value"] == BEFORE_VALUE for _, _, fields in set(points) - kept)  # HA's past left out
    assert not missing, f"points HA kept that B lacks or holds otherwise: {sorted(missing)[:3]}"
    assert ha_points < len(values) - RATE * (OUTAGE_S - 5)  # HA drops what changes while InfluxDB is away
