"""JetStream as the health function sees it: the queue (stream HA), its consumers, and the dead letters (HA_DLQ).

Its own connection, not `bus.default()`: the bus reconnects forever (right for publishers), so a first
connect while NATS is down never returns and each health call would leave one more attempt running.
Here a connection that fails or drops is simply opened again by the next probe. Dead letters are read
through ephemeral consumers (memory storage, deleted after use, and expiring by themselves if a delete
is lost), so nothing durable is left behind, with pull requests bounded in bytes (READ_BYTES).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy, Header
from nats.js.errors import NotFoundError

from ingestor import subjects

T = TypeVar("T")
FETCH_BATCH = 250
EPHEMERAL_IDLE_S = 30.0
READ_BYTES = 16 * 1024 * 1024  # what one read of dead letters may fetch (nats-server's own limit is 64 MiB)
MAX_PASSES = 3
API = "$JS.API"  # JetStream's API subjects (no domain), as the context from Client.jetstream() uses


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    time: dt.datetime
    data: bytes


@dataclass(frozen=True)
class Recent:
    """Messages read oldest first; `limited` when the byte bound left older ones of those asked for out."""

    messages: list[StoredMessage]
    limited: bool


async def _quiet(_: Exception) -> None:
    """nats-py logs connection errors itself by default; the probe reports them instead."""


class JetStreamMonitor:
    def __init__(self, url: str, stream: str, timeout: float) -> None:
        self.url = url
        self.stream = stream
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="health-nats", daemon=True)
        self._thread.start()
        self._nc: Client | None = None
        self._connecting = asyncio.Lock()

    def run(self, work: Callable[[JetStreamContext], Coroutine[Any, Any, T]], timeout: float | None = None) -> T:
        """Run `work(js)` on the monitor's loop; raises the NATS error or TimeoutError."""
        future = asyncio.run_coroutine_threadsafe(self._with_js(work), self._loop)
        try:
            return future.result(timeout or self.timeout)
        except TimeoutError:
            future.cancel()
            raise

    async def _with_js(self, work: Callable[[JetStreamContext], Coroutine[Any, Any, T]]) -> T:
        async with self._connecting:
            if self._nc is None or self._nc.is_closed or not self._nc.is_connected:
                if self._nc is not None and not self._nc.is_closed:
                    await self._nc.close()
                self._nc = None
                self._nc = await nats.connect(self.url, name="health", connect_timeout=max(self.timeout / 2, 0.5),
                                              allow_reconnect=False, error_cb=_quiet)
        return await work(self._nc.jetstream(timeout=self.timeout))

    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def server_info(self) -> dict[str, Any]:
        """What the server said when we connected (version, JetStream on); empty before a connection."""
        info = getattr(self._nc, "_server_info", None) or {}
        return {"server_version": info.get("version"), "jetstream": info.get("jetstream")}

    # -- what the probes ask -----------------------------------------------------------------------

    async def stream_state(self, js: JetStreamContext, subject: str) -> tuple[dict[str, Any], int]:
        """The stream's figures, and how many messages on `subject` its own stream (subjects.stream_of) holds."""
        info = await js.stream_info(self.stream)
        state = info.state
        figures = {"name": info.config.name, "messages": state.messages, "bytes": state.bytes,
                   "max_bytes": info.config.max_bytes, "first_seq": state.first_seq, "last_seq": state.last_seq,
                   "consumer_count": state.consumer_count}
        held = (await js.stream_info(subjects.stream_of(subject), subjects_filter=subject)).state.subjects
        return figures, int((held or {}).get(subject, 0))

    async def consumers(self, js: JetStreamContext) -> list[ConsumerInfo]:
        return list(await js.consumers_info(self.stream))

    async def oldest_waiting(self, js: JetStreamContext, info: ConsumerInfo) -> dt.datetime | None:
        """When the oldest message `info`'s consumer has not acknowledged was stored (None: nothing waits)."""
        floor = info.ack_floor.stream_seq if info.ack_floor else 0
        subject = info.config.filter_subject or ">"
        try:
            msg = await js.get_msg(self.stream, (floor or 0) + 1, subject=subject, next=True)
        except NotFoundError:
            return None
        return msg.time

    async def count_since(self, js: JetStreamContext, subject: str, since: dt.datetime) -> int:
        """Messages on `subject` stored at or after `since` (an ephemeral consumer's pending count)."""
        config = self._ephemeral(subject, DeliverPolicy.BY_START_TIME, opt_start_time=since)
        info = await js.add_consumer(subjects.stream_of(subject), config=config)
        await self._drop(js, config)
        return int(info.num_pending or 0)

    async def last_messages(self, js: JetStreamContext, subject: str, total: int, last: int,
                            since: tuple[dt.datetime, int] | None = None, max_bytes: int = READ_BYTES) -> Recent:
        """The last `last` messages on `subject` (of `total` held), oldest first, at most about `max_bytes`.

        `since` = (time, how many are at or after it): when those are all that is wanted, they are read
        from that time; otherwise the start is found by a binary search over stream sequences. When the
        bytes run out before the newest, fewer (newer) ones are read again, sized by what was seen, so the
        result is the newest that fit (`limited`); if not even one fits, the newest alone.
        """
        wanted = min(total, last)
        if wanted <= 0:
            return Recent([], False)
        read: list[StoredMessage] = []
        for _ in range(MAX_PASSES):
            if since is not None and since[1] <= wanted:
                config = self._ephemeral(subject, DeliverPolicy.BY_START_TIME, opt_start_time=since[0])
            else:
                start = await self._start_of_last(js, subject, wanted) if total > wanted else 0
                config = self._ephemeral(subject, DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start) if start \
                    else self._ephemeral(subject, DeliverPolicy.ALL)
            read, whole = await self._read(js, config, wanted, max_bytes)
            if whole:
                return Recent(read[-wanted:], wanted < min(total, last))
            if not read:
                break
            average = max(sum(len(m.data) for m in read) / len(read), 1.0)
            wanted, since = max(1, min(len(read), int(max_bytes // average))), None  # < wanted: not whole
        if read:
            return Recent(read, True)
        newest = await js.get_last_msg(subjects.stream_of(subject), subject)
        return Recent([StoredMessage(newest.seq or 0, newest.time or dt.datetime.now(dt.UTC), newest.data or b"")],
                      True)

    async def _read(self, js: JetStreamContext, config: ConsumerConfig, wanted: int,
                    max_bytes: int) -> tuple[list[StoredMessage], bool]:
        """Up to `wanted` messages of an ephemeral consumer, oldest first, within `max_bytes`; False when
        the bytes ran out before the messages did.

        Pull requests carry max_bytes (what the server may send for each), so the server never holds
        more for this connection than the bytes still allowed: never a slow consumer, however large the
        messages are. Each request has its own inbox, so a status left over from the last one is not read."""
        assert self._nc is not None
        stream = subjects.stream_of(config.filter_subject or "")
        info = await js.add_consumer(stream, config=config)
        wanted = min(wanted, int(info.num_pending or 0))
        out: list[StoredMessage] = []
        used = 0
        try:
            while len(out) < wanted:
                batch = min(FETCH_BATCH, wanted - len(out))
                request = {"batch": batch, "max_bytes": max_bytes - used, "no_wait": True,
                           "expires": int(self.timeout * 1e9)}
                got, status = await self._pull(stream, config.name or "", request, out)
                used += got
                if got:
                    continue
                if status.startswith("409") and "MaxBytes" in status:
                    return out, False  # the next message does not fit in what is left
                if status.startswith(("404", "408")):
                    break  # fewer than counted (some aged out meanwhile): all there is was read
                raise RuntimeError(f"reading {stream}: JetStream answered {status}")
        finally:
            await self._drop(js, config)
        return out, True

    async def _pull(self, stream: str, consumer: str, request: dict[str, Any],
                    out: list[StoredMessage]) -> tuple[int, str]:
        """One pull request: its messages appended to `out`; (bytes received, the status that ended it:
        "404 No Messages", "409 Message Size Exceeds MaxBytes", ..., or "" when the batch was filled)."""
        assert self._nc is not None
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)
        received, count = 0, 0
        try:
            await self._nc.publish(f"{API}.CONSUMER.MSG.NEXT.{stream}.{consumer}", json.dumps(request).encode(),
                                   reply=inbox)
            while count < request["batch"]:
                msg = await sub.next_msg(timeout=self.timeout)
                headers = msg.headers or {}
                if not msg.data and headers.get(Header.STATUS):
                    return received, f"{headers[Header.STATUS]} {headers.get(Header.DESCRIPTION, '')}"
                out.append(StoredMessage(msg.metadata.sequence.stream, msg.metadata.timestamp, msg.data))
                received += len(msg.data) + len(msg.subject) + sum(len(k) + len(v) for k, v in
                                                                   (msg.headers or {}).items())
                count += 1
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return received, ""

    async def _start_of_last(self, js: JetStreamContext, subject: str, last: int) -> int:
        """The highest stream sequence from which at least `last` messages on `subject` remain (binary search)."""
        stream = subjects.stream_of(subject)
        info = await js.stream_info(stream)
        low, high = info.state.first_seq, info.state.last_seq
        while low < high:
            middle = (low + high + 1) // 2
            config = self._ephemeral(subject, DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=middle)
            pending = int((await js.add_consumer(stream, config=config)).num_pending or 0)
            await self._drop(js, config)
            if pending >= last:
                low = middle
            else:
                high = middle - 1
        return low

    @staticmethod
    def _ephemeral(subject: str, policy: DeliverPolicy, **start: Any) -> ConsumerConfig:
        return ConsumerConfig(name=f"health-{uuid.uuid4().hex[:16]}", filter_subject=subject, deliver_policy=policy,
                              ack_policy=AckPolicy.NONE, mem_storage=True, inactive_threshold=EPHEMERAL_IDLE_S,
                              num_replicas=1, **start)

    async def _drop(self, js: JetStreamContext, config: ConsumerConfig) -> None:
        with contextlib.suppress(Exception):  # it expires by itself after EPHEMERAL_IDLE_S
            await js.delete_consumer(subjects.stream_of(config.filter_subject or ""), config.name or "")

    def close(self) -> None:
        async def _close() -> None:
            if self._nc is not None and not self._nc.is_closed:
                await self._nc.close()

        asyncio.run_coroutine_threadsafe(_close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
