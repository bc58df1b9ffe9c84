"""ingestor.bus against a real nats-server: what it does with messages the server can never take."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestor import envelope, streams, subjects
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


def test_messages_published_together_are_each_stored_under_their_own_id(bus: Bus) -> None:
    messages = [(subjects.VALID, envelope.encode(f"together-{i}", [i]), f"together-{i}") for i in range(4)]
    assert bus.publish_all(messages) == [False] * 4
    assert bus.publish_all(messages[:2]) == [True, True]  # sent again: JetStream drops them as duplicates


def test_one_message_too_large_among_several_sends_none_of_them(bus: Bus) -> None:
    small = (subjects.VALID, envelope.encode("not-sent", [1]), "not-sent")
    with pytest.raises(TooLarge):
        bus.publish_all([small, (subjects.VALID, b"x" * bus.max_payload, "too-big-too")])
    assert bus.publish_all([small]) == [False]  # not a duplicate: it was never sent
