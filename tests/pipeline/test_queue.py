"""The queue layout (ingestor.streams) against a real nats-server: a message stays exactly as long as a stage still
needs it, a full queue refuses instead of dropping, raw events stay replayable for a window, and a stream of the
first layout is migrated with every pending message kept. One nats-server for the module; each test starts from
no streams at all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, RetentionPolicy, StreamConfig

from ingestor import streams, subjects
from ingestor.bus import Bus
from ingestor.errors import Unavailable
from ingestor.health.jetstream import JetStreamMonitor
from ingestor.health.probes import consumer_row
from localfaas.natsserver import NatsServer
from tests.support.jetstream import JetStreamClient


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(Path(tmp_path_factory.mktemp("nats"))) as running:
        yield running


@pytest.fixture
def client(server: NatsServer) -> Iterator[JetStreamClient]:
    js = JetStreamClient(server.url, observe=False)
    for stream in js._run(js.js.streams_info()):
        js._run(js.js.delete_stream(stream.config.name))
    yield js
    js.close()


PIPELINE = ((subjects.RAW, "validate"), (subjects.VALID, "normalize"), (subjects.ENRICHED, "write"),
            (subjects.ENRICHED, "webhook-dispatch"))


def ensure_all(client: JetStreamClient) -> None:
    """The streams, and the consumers the topic connector makes for these stages before invoking any."""
    client._run(streams.ensure_all(client.js))
    for subject, function in PIPELINE:
        client.subscribe_stage(function, subject)


def consume(client: JetStreamClient, function: str, subject: str, count: int) -> None:
    """Acknowledge the next `count` messages as the connector's consumer of `function` on `subject` does."""
    async def work() -> None:
        sub = await client.js.pull_subscribe_bind(subjects.durable_name(function, subject), subjects.STREAM)
        for msg in await sub.fetch(count, timeout=5):
            await msg.ack_sync()
        await sub.unsubscribe()
    client._run(work())


def held(client: JetStreamClient, subject: str, stream: str = subjects.STREAM) -> int:
    state = client._run(client.js.stream_info(stream, subjects_filter=subject)).state
    return int((state.subjects or {}).get(subject, 0))


def wait_for(condition, timeout: float = 10) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_message_stays_until_every_stage_reading_its_subject_has_acknowledged_it(client: JetStreamClient) -> None:
    ensure_all(client)
    client.publish(subjects.ENRICHED, b"{}", "enriched-1")
    consume(client, "write", subjects.ENRICHED, 1)
    assert held(client, subjects.ENRICHED) == 1  # webhook-dispatch has not read it yet
    consume(client, "webhook-dispatch", subjects.ENRICHED, 1)
    assert held(client, subjects.ENRICHED) == 0


def test_raw_events_stay_replayable_after_validate_consumed_them(client: JetStreamClient) -> None:
    ensure_all(client)
    client.publish(subjects.RAW, b'{"n": 1}', "raw-1")
    consume(client, "validate", subjects.RAW, 1)
    assert wait_for(lambda: held(client, subjects.RAW, subjects.REPLAY_STREAM) == 1)
    assert wait_for(lambda: held(client, subjects.RAW) == 0)  # once the replay stream has its copy too


def test_a_backlog_older_than_the_replay_window_is_kept_and_its_age_shown(
        client: JetStreamClient, server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLAY_HOURS", str(1 / 3600))  # a one-second window
    ensure_all(client)
    client.publish(subjects.RAW, b'{"n": 1}', "raw-old")
    assert wait_for(lambda: held(client, subjects.RAW, subjects.REPLAY_STREAM) == 1)
    assert wait_for(lambda: held(client, subjects.RAW, subjects.REPLAY_STREAM) == 0)  # the window moved on
    assert held(client, subjects.RAW) == 1  # validate never read it: still queued
    monitor = JetStreamMonitor(server.url, subjects.STREAM, timeout=5)
    try:
        durable = subjects.durable_name("validate", subjects.RAW)
        info = monitor.run(lambda js: js.consumer_info(subjects.STREAM, durable))
        row = consumer_row(info, monitor.run(lambda js: monitor.oldest_waiting(js, info)))
    finally:
        monitor.close()
    assert row["pending"] == 1 and row["backlog_age_s"] is not None and row["backlog_age_s"] >= 1


def test_a_full_queue_refuses_new_messages_and_keeps_every_accepted_one(
        client: JetStreamClient, server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_MAX_BYTES", str(64 * 1024))
    ensure_all(client)
    bus = Bus(server.url)
    try:
        accepted = 0
        with pytest.raises(Unavailable) as refused:
            while accepted < 1000:
                bus.publish(subjects.RAW, b"x" * 1000, f"fill-{accepted}")
                accepted += 1
        assert refused.value.code == "queue_full" and "queue is full" in refused.value.message
        assert 0 < accepted < 1000
        assert client.backlog(subjects.durable_name("validate", subjects.RAW)) == (accepted, 0)
        consume(client, "validate", subjects.RAW, 10)  # validate works off part of its backlog: room again
        assert wait_for(lambda: held(client, subjects.RAW) == accepted - 10)
        assert bus.publish(subjects.RAW, b"x" * 1000, f"fill-{accepted}") is False
    finally:
        bus.close()


def test_a_batch_published_again_is_a_duplicate_after_every_stage_consumed_it(client: JetStreamClient) -> None:
    ensure_all(client)
    client.publish(subjects.VALID, b"{}", "batch-1")
    consume(client, "normalize", subjects.VALID, 1)
    assert held(client, subjects.VALID) == 0
    ack = client._run(client.js.publish(subjects.VALID, b"{}", headers={"Nats-Msg-Id": "batch-1"}))
    assert ack.duplicate and held(client, subjects.VALID) == 0


def test_dead_letters_are_kept_with_no_stage_reading_them(client: JetStreamClient) -> None:
    ensure_all(client)
    client.publish(subjects.DLQ, b'{"reason": "x"}', "dead-1")
    assert held(client, subjects.DLQ, subjects.DLQ_STREAM) == 1


# -- migration from the first layout ------------------------------------------------------------------------

FIRST_LAYOUT = StreamConfig(name=subjects.STREAM, subjects=["ha.>", "sports.>"], retention=RetentionPolicy.LIMITS,
                            discard=DiscardPolicy.OLD, max_age=7 * 86_400, duplicate_window=1200)


def first_layout_midway(client: JetStreamClient) -> None:
    """An HA stream as the first layout left it, its connector consumers part-way through their subjects."""
    client._run(client.js.add_stream(FIRST_LAYOUT))
    for n in range(10):
        for subject in (subjects.RAW, subjects.VALID, subjects.ENRICHED):
            client.publish(subject, f'{{"n": {n}}}'.encode(), f"{subject}-{n}")
    for n in range(5):
        client.publish(subjects.DLQ, f'{{"dead": {n}}}'.encode(), f"dead-{n}")
    for function, subject, acked in (("validate", subjects.RAW, 4), ("normalize", subjects.VALID, 0),
                                     ("write", subjects.ENRICHED, 10), ("webhook-dispatch", subjects.ENRICHED, 3)):
        client._run(client.js.add_consumer(subjects.STREAM, ConsumerConfig(
            durable_name=subjects.durable_name(function, subject), filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, max_deliver=-1)))
        if acked:
            consume(client, function, subject, acked)


def test_the_migration_keeps_every_message_a_stage_has_not_acknowledged(client: JetStreamClient) -> None:
    first_layout_midway(client)
    ensure_all(client)
    config = client._run(client.js.stream_info(subjects.STREAM)).config
    assert (config.retention, config.discard) == (RetentionPolicy.INTEREST, DiscardPolicy.NEW)
    assert client.backlog(subjects.durable_name("validate", subjects.RAW)) == (6, 0)
    assert client.backlog(subjects.durable_name("normalize", subjects.VALID)) == (10, 0)
    assert client.backlog(subjects.durable_name("webhook-dispatch", subjects.ENRICHED)) == (7, 0)
    assert (held(client, subjects.RAW), held(client, subjects.VALID), held(client, subjects.ENRICHED)) == (6, 10, 7)
    consume(client, "validate", subjects.RAW, 6)
    assert wait_for(lambda: held(client, subjects.RAW) == 0)  # and from now on a message goes once its stages are done


def test_the_migration_moves_the_dead_letters_with_their_ids(client: JetStreamClient) -> None:
    first_layout_midway(client)
    ensure_all(client)
    moved = client.stored(subjects.DLQ)
    assert [(m.msg_id, m.data) for m in moved] == [(f"dead-{n}", f'{{"dead": {n}}}'.encode()) for n in range(5)]
    assert held(client, subjects.DLQ) == 0


def test_a_batch_published_before_the_migration_is_a_duplicate_after_it(client: JetStreamClient) -> None:
    first_layout_midway(client)
    ensure_all(client)
    ack = client._run(client.js.publish(subjects.RAW, b"{}", headers={"Nats-Msg-Id": f"{subjects.RAW}-9"}))
    assert ack.duplicate


def test_the_migration_run_again_changes_nothing(client: JetStreamClient) -> None:
    first_layout_midway(client)
    ensure_all(client)
    ensure_all(client)
    assert len(client.stored(subjects.DLQ)) == 5
    assert client.backlog(subjects.durable_name("validate", subjects.RAW)) == (6, 0)


def test_a_full_subject_leaves_the_stages_after_it_room_to_drain(
        client: JetStreamClient, server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_MAX_MSGS_PER_SUBJECT", "3")
    ensure_all(client)
    bus = Bus(server.url)
    try:
        for n in range(3):
            bus.publish(subjects.RAW, b"{}", f"raw-{n}")
        with pytest.raises(Unavailable) as refused:
            bus.publish(subjects.RAW, b"{}", "raw-3")
        assert refused.value.code == "queue_full"
        assert bus.publish(subjects.VALID, b"{}", "valid-0") is False  # validate can still hand on its work
    finally:
        bus.close()


def test_the_migration_keeps_a_backlog_above_the_per_subject_bound(
        client: JetStreamClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_MAX_MSGS_PER_SUBJECT", "5")
    first_layout_midway(client)
    ensure_all(client)
    assert client.backlog(subjects.durable_name("normalize", subjects.VALID)) == (10, 0)
    ensure_all(client)  # a later start with the same settings
    assert held(client, subjects.VALID) == 10
