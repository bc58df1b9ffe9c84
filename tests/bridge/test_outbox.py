"""The bridge's outbox against a real nats-server: an oversize batch is split from its events as they were encoded
once, and a stream made again after a failed publish is made on the bridge's own connection."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from ha_bridge import publisher
from ha_bridge.batcher import Batch, encode_envelope
from ha_bridge.publisher import Outbox
from ha_bridge.spool import Spool
from ha_bridge.state import BridgeState
from ingestor import jsoncodec, subjects
from ingestor.bus import Bus
from localfaas.natsserver import MAX_PAYLOAD, NatsServer
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture()
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats") as server:
        client = JetStreamClient(server.url)
        client.ensure_stream()
        client.subscribe_stage("validate", subjects.RAW)  # the queue keeps raw events for it
        client.close()
        yield server


@pytest.fixture()
def outbox(nats: NatsServer, tmp_path: Path) -> Iterator[Outbox]:
    bus = Bus(nats.url, name="gateway-bridge")
    box = Outbox(bus, Spool(tmp_path / "bridge", 10**9), BridgeState(tmp_path / "bridge"), nats.url)
    box.start()
    yield box
    box.close(grace=5)
    bus.close()


def batch_of(batch_id: str, events: list[Any]) -> Batch:
    encoded = [jsoncodec.dumps(e) for e in events]
    return Batch(subjects.RAW, batch_id, encode_envelope(batch_id, encoded), len(events), encoded=encoded)


def stored_ids(nats: NatsServer) -> list[str | None]:
    client = JetStreamClient(nats.url)
    try:
        return [m.msg_id for m in client.stored(subjects.RAW)]
    except NotFoundError:  # no stream (yet, or any more)
        return []
    finally:
        client.close()


def test_raw_events_wait_in_the_spool_while_no_function_reads_them(outbox: Outbox, nats: NatsServer) -> None:
    client = JetStreamClient(nats.url)
    try:
        client._run(client.js.delete_consumer(subjects.STREAM, subjects.durable_name("validate", subjects.RAW)))
        assert outbox.put(batch_of("raw-early", [{"n": 1}]))
        assert wait_for(lambda: outbox.figures()["spool_depth"] == 1, 30)
        assert outbox.figures()["nats_error"] == f"Unavailable: {publisher.NO_READER}"
        client.subscribe_stage("validate", subjects.RAW)
        assert wait_for(lambda: stored_ids(nats) == ["raw-early"], 30)
    finally:
        client.close()


def test_an_oversize_batch_is_split_from_its_encoded_events_without_decoding_its_payload(
        outbox: Outbox, nats: NatsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(_: bytes) -> Any:
        raise AssertionError("the payload was decoded again")

    monkeypatch.setattr(publisher.jsoncodec, "loads", no_decoding)
    events = [{"n": n, "pad": "x" * (MAX_PAYLOAD // 3)} for n in range(4)]  # about 1.3 max_payload
    assert outbox.put(batch_of("raw-big", events))
    assert wait_for(lambda: sorted(filter(None, stored_ids(nats))) == ["raw-big.0", "raw-big.1"], 30)


def test_after_a_failed_publish_the_stream_is_made_again_on_the_bridges_own_connection(
        outbox: Outbox, nats: NatsServer) -> None:
    assert outbox.put(batch_of("raw-1", [{"n": 1}]))
    assert wait_for(lambda: stored_ids(nats) == ["raw-1"], 30)
    client = JetStreamClient(nats.url)
    client._run(client.js.delete_stream(subjects.STREAM))  # as a NATS started afresh without its storage
    assert outbox.put(batch_of("raw-2", [{"n": 2}]))
    assert wait_for(lambda: outbox.figures()["nats_error"] == f"Unavailable: {publisher.NO_READER}", 30)
    client.subscribe_stage("validate", subjects.RAW)  # as the connector does
    client.close()
    assert wait_for(lambda: stored_ids(nats) == ["raw-2"], 60)
    with urllib.request.urlopen(f"{nats.monitor_url}/connz?state=all&limit=1024", timeout=5) as reply:
        names = [c.get("name") for c in json.loads(reply.read())["connections"]]
    assert names.count("gateway-bridge") == 1 and [n for n in names if n and n.startswith("gateway-bridge")] == [
        "gateway-bridge"]
