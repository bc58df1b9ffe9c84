"""A small synchronous JetStream client for tests: publish batches, read back what a subject holds."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ingestor import envelope, jsoncodec, streams, subjects

T = TypeVar("T")


@dataclass(frozen=True)
class Stored:
    """A message as the stream holds it."""

    seq: int
    msg_id: str | None
    data: bytes


OBSERVER = "test-observer"
"""A durable consumer of every subject of the queue that never acknowledges: the queue keeps every message for it,
so a test reads back what passed through a subject after its stages consumed it (as the first layout kept all)."""


def queue_with_validate(url: str) -> None:
    """The queue's streams and validate's consumer, as the topic connector makes it, on a bare nats-server (the
    bridge holds raw events while nothing reads them), and the observer, so that what the bridge publishes from
    its start (its registry snapshot too) stays to be read."""
    client = JetStreamClient(url)
    try:
        client.ensure_stream()
        client.subscribe_stage("validate", subjects.RAW)
    finally:
        client.close()


class JetStreamClient:
    def __init__(self, url: str, observe: bool = True) -> None:
        """`observe`: keep every message of the queue for this test to read (OBSERVER), from now on. Off where
        a test needs the queue as the product leaves it (health: an observer's growing backlog degrades it)."""
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self.nc = self._run(nats.connect(url))
        self.js = self.nc.jetstream(timeout=10)
        self.observing = observe
        if observe:
            with contextlib.suppress(NotFoundError):  # no stream yet: ensure_stream() adds the observer
                self._observe()

    def _observe(self) -> None:
        self._run(self.js.add_consumer(streams.HA_STREAM, ConsumerConfig(
            durable_name=OBSERVER, filter_subjects=list(subjects.STREAM_SUBJECTS), ack_policy=AckPolicy.EXPLICIT)))

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def ensure_stream(self) -> None:
        """The stream the runtime creates at start (for tests with a nats-server of their own)."""
        self._run(streams.ensure_all(self.js))
        if self.observing:
            self._observe()

    def subscribe_stage(self, function: str, subject: str) -> None:
        """The consumer the topic connector makes for `function` on `subject` (the queue keeps messages for it)."""
        self._run(self.js.add_consumer(streams.HA_STREAM, streams.consumer_config(function, subject)))

    def publish(self, subject: str, payload: bytes, msg_id: str | None = None) -> None:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        self._run(self.js.publish(subject, payload, headers=headers))

    def publish_batch(self, subject: str, batch_id: str, events: list[Any]) -> None:
        self.publish(subject, envelope.encode(batch_id, events), batch_id)

    def stored(self, subject: str) -> list[Stored]:
        """Every message the stream holds on `subject`, oldest first, with its sequence and Nats-Msg-Id."""
        async def read() -> list[Stored]:
            sub = await self.js.pull_subscribe(
                subject, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE))
            out: list[Stored] = []
            try:
                # as many as the new consumer has pending: a fetch that times out is no sign of the stream's
                # end (on a loaded machine the first one can take longer than any short timeout)
                left = (await sub.consumer_info()).num_pending
                while left > 0:
                    msgs = await sub.fetch(min(left, 500), timeout=10)
                    out += [Stored(m.metadata.sequence.stream, (m.headers or {}).get("Nats-Msg-Id"), m.data)
                            for m in msgs]
                    left -= len(msgs)
                return out
            finally:
                await sub.unsubscribe()
        return self._run(read())

    def raw_messages(self, subject: str) -> list[bytes]:
        return [m.data for m in self.stored(subject)]

    def messages(self, subject: str) -> list[Any]:
        return [jsoncodec.loads(m) for m in self.raw_messages(subject)]

    def events(self, subject: str) -> list[Any]:
        """All events of all batch envelopes on `subject`."""
        return [e for doc in self.messages(subject) for e in doc["events"]]

    def wait_events(self, subject: str, count: int, timeout: float, settle: float = 1.0) -> list[Any]:
        """Wait until `count` events are on `subject`, then `settle` more seconds to catch extras."""
        deadline = time.monotonic() + timeout
        found = self.events(subject)
        while len(found) < count and time.monotonic() < deadline:
            time.sleep(0.2)
            found = self.events(subject)
        time.sleep(settle)
        return self.events(subject)

    def wait_messages(self, subject: str, count: int, timeout: float, settle: float = 1.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.raw_messages(subject)) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(settle)
        return self.messages(subject)

    def backlog(self, durable: str, stream: str = "HA") -> tuple[int, int]:
        """(not yet delivered, delivered but not settled) messages of a durable consumer."""
        info = self._run(self.js.consumer_info(stream, durable))
        return info.num_pending, info.num_ack_pending

    @contextlib.contextmanager
    def held(self, durable: str) -> Iterator[None]:
        """The durable consumer paused for the block (NATS 2.11+): what arrives meanwhile waits, a backlog, and is
        delivered once the block ends."""
        until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
        self._run(self.js.pause_consumer(streams.HA_STREAM, durable, until.strftime("%Y-%m-%dT%H:%M:%SZ")))
        try:
            yield
        finally:
            self._run(self.js.resume_consumer(streams.HA_STREAM, durable))

    def close(self) -> None:
        self._run(self.nc.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
