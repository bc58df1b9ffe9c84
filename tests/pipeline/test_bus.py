"""ingestor.bus against a real nats-server: what it does with messages the server can never take."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestor import streams, subjects
from ingestor.bus import Bus
from ingestor.errors import TooLarge
from ingestor.responses import status_of
from localfaas.natsserver import NatsServer


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bus]:
    server = NatsServer(Path(tmp_path_factory.mktemp("nats")))
    server.start()
    client = Bus(server.url)
    client.call(streams.ensure_all)
    yield client
    client.close()
    server.stop()


def test_a_message_over_max_payload_is_a_413_to_dead_letter_not_an_outage_to_retry(bus: Bus) -> None:
    with pytest.raises(TooLarge) as caught:
        bus.publish(subjects.VALID, b"x" * bus.max_payload, "too-big")
    assert status_of(caught.value) == 413 and "max_payload" in caught.value.message


def test_an_oversize_batch_of_many_events_is_split_and_published(bus: Bus) -> None:
    events = [{"event_id": str(i), "pad": "y" * (bus.max_payload // 4)} for i in range(12)]
    assert bus.publish_batch(subjects.VALID, "split-me", events) > 1
