"""The topic connector: JetStream subjects -> function invocations, at-least-once, nothing silent.

For each function and each of its `topic` annotation's subjects there is a durable pull consumer
(ingestor.subjects.durable_name), made for every new function before any is invoked: the queue keeps a message
only for the consumers that exist when it arrives (ingestor.streams). The message body is POSTed to the
function through the gateway (inside the local runtime, whose gateway shares its process, by a direct call,
TopicConnector's `direct`: the same path without a loopback request per message):
  2xx -> ack
  4xx -> dead-letter with the function's reason, then term
  503/429, gateway unreachable -> nak, forever (a stage that is down only delays): while the function
      stays unavailable its subscription takes one message at a time, spaced by the backoff (doubling up
      to UNAVAILABLE_CAP_S), and back to full speed at the first answer, so the pipeline resumes within
      seconds of a store coming back however long it was away
  other 5xx, timeout -> nak with backoff; after `max-deliver` such failures, dead-letter, then term
Per-function settings come from annotations: com.ha-ingestor.max-deliver (5),
com.ha-ingestor.concurrency (4), com.ha-ingestor.timeout (30s), com.ha-ingestor.backoff (1s, doubling
per failure up to a minute), com.ha-ingestor.coalesce (1).

Coalescing (`com.ha-ingestor.coalesce: "<n>"`, for functions that handle ingestor.envelope's coalesced form):
a subscription fetches up to concurrency x n messages and, when it finds more than `concurrency` waiting (a
backlog), makes up to `concurrency` calls of up to n messages each, one subject and at most
envelope.MAX_COALESCED_BYTES per call, as Lambda's SQS event source or a Kafka consumer batches. Without a backlog
(no more messages than `concurrency`, a home's usual few events a second) each message is its own call, as
without the annotation, so nothing waits. Every message keeps its outcome: a coalesced call answered 2xx acks
each of its messages; any other answer (a batch refused, 503, 5xx, a timeout) sends its messages one by one, as
above, each to its own ack, dead letter, retry or probe. The function handles each batch as it would alone (same
derived ids), so batches it handled before the failure are handled again idempotently. While a function is
unavailable (probing, one message at a time) nothing is coalesced.

An outage is logged once when it starts and once when it ends, however many retries it takes: a
function that answers 503 (its store is down) or times out, and NATS refusing fetches. Messages in
flight when the connector stops are returned (nak), so they are redelivered at once on the next
start instead of after the acknowledgement timeout.

It runs inside the local runtime, and alone beside a real OpenFaaS gateway (`python -m ha_connector`, see
ha_connector.service: the gateway's basic auth, /health, /ready, /metrics, optionally the cron connector too),
since it learns functions from the gateway's /system/functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from ha_connector import catalog
from ha_connector.catalog import FunctionInfo, duration, timeout_of
from ha_connector.invoke import Outcome, Result, invoke, refusal_noted, signed
from ha_connector.settle import returned_if_cancelled
from ingestor import dlq, envelope, metrics, natsconn, streams, subjects
from ingestor.bus import PAYLOAD_MARGIN
from ingestor.outage import Outage

log = logging.getLogger(__name__)
_messages = metrics.counter("connector_messages_total", "Messages handled by the topic connector, by outcome",
                            ["function", "topic", "outcome"])
_coalesced = metrics.counter("connector_coalesced_calls_total",
                             "Calls carrying several messages, by outcome (ok: all acked; one_by_one: called again "
                             "message by message)", ["function", "topic", "outcome"])
BACKOFF_CAP_S = 60.0
UNAVAILABLE_CAP_S = 2.0
"""The longest wait between two tries of an unavailable function: how long the pipeline may lag behind a
dependency that came back."""


def backoff(base: float, failures: int) -> float:
    """base, 2·base, 4·base… capped at a minute."""
    return min(base * 2 ** max(failures - 1, 0), BACKOFF_CAP_S)


def grouped(msgs: list[Msg], calls: int, most: int, max_bytes: int = envelope.MAX_COALESCED_BYTES) -> list[list[Msg]]:
    """The fetched messages as the calls that carry them, in order. No more messages than `calls` (no backlog),
    or `most` 1: each alone. Else about len/calls each, at most `most`, of one subject and a coalesced body of at
    most `max_bytes` (a message larger than that goes alone)."""
    if len(msgs) <= calls or most <= 1:
        return [[m] for m in msgs]
    size = min(-(-len(msgs) // calls), most)
    groups: list[list[Msg]] = []
    current: list[Msg] = []
    held = 0
    for msg in msgs:
        if current and (len(current) >= size or msg.subject != current[0].subject
                        or envelope.coalesced_size(held + len(msg.data), len(current) + 1) > max_bytes):
            groups.append(current)
            current, held = [], 0
        current.append(msg)
        held += len(msg.data)
    groups.append(current)
    return groups


class Subscription:
    """One durable consumer feeding one function."""

    def __init__(self, connector: TopicConnector, fn: FunctionInfo, topic: str) -> None:
        self.connector = connector
        self.fn = fn
        self.topic = topic
        self.max_deliver = int(fn.setting("max-deliver", "5"))
        self.concurrency = int(fn.setting("concurrency", "4"))
        self.coalesce = min(max(int(fn.setting("coalesce", "1")), 1), envelope.MAX_COALESCED_BATCHES)
        self.timeout = timeout_of(fn.annotations)
        self.backoff_base = duration(fn.setting("backoff", "1s"))
        self.failures: dict[int, int] = {}  # stream sequence -> failed attempts (not counting unavailable)
        self.unavailable = 0  # answers "unavailable" in a row: while > 0, one message at a time, spaced
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    def stop(self) -> None:
        """Cancel the fetch loop, and tell it to end: on Python 3.11 a cancel that lands as a fetch's message
        arrives (every idle fetch ends with one) is swallowed by nats-py's `asyncio.wait_for`, and the loop,
        were it watching only for the cancel, would fetch on for ever."""
        self.stopping = True
        if self.task:
            self.task.cancel()

    def probe_delay(self) -> float:
        """The wait before the next try of an unavailable function: the backoff, capped at UNAVAILABLE_CAP_S."""
        return min(backoff(self.backoff_base, self.unavailable), UNAVAILABLE_CAP_S)

    async def declare(self) -> None:
        """Create the durable consumer, or bring an existing one to this function's settings (its position kept)."""
        await self.connector.js.add_consumer(self.connector.stream, streams.consumer_config(
            self.fn.name, self.topic, ack_wait=self.timeout + 30,
            max_ack_pending=max(self.concurrency * self.coalesce * 4, 16)))

    def count(self, outcome: str, messages: int = 1) -> None:
        _messages.labels(self.fn.name, self.topic, outcome).inc(messages)

    async def run(self) -> None:
        js = self.connector.js
        sub = await js.pull_subscribe_bind(subjects.durable_name(self.fn.name, self.topic), self.connector.stream)
        while not self.stopping:
            if self.unavailable:  # probing: one message, then wait; its answer ends the outage or extends it
                await asyncio.sleep(self.probe_delay())
            try:
                msgs = await sub.fetch(1 if self.unavailable else self.concurrency * self.coalesce, timeout=1)
            except TimeoutError:
                self.connector.fetching.recovered()
                continue
            except Exception as exc:  # connection trouble: nats-py reconnects; try again shortly
                self.connector.fetching.failed(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1)
                continue
            self.connector.fetching.recovered()
            slots = asyncio.Semaphore(self.concurrency)  # more groups than calls only past a subject or size bound
            calls = (self.handle_many(group, slots) for group in grouped(msgs, self.concurrency, self.coalesce))
            for outcome in await asyncio.gather(*calls, return_exceptions=True):
                if isinstance(outcome, Exception):  # ack/nak lost: JetStream redelivers after ack_wait
                    log.warning("message not settled", extra={"function": self.fn.name, "error": repr(outcome)})

    async def handle_many(self, msgs: list[Msg], slots: asyncio.Semaphore) -> None:
        """One call for the messages (coalesced when several), each settled by its answer; if it is not a 2xx,
        the messages one by one, each to its own outcome. Exceptions: as `handle`'s."""
        async with slots:
            if len(msgs) == 1:
                return await self.handle(msgs[0])
            async with returned_if_cancelled(*msgs):
                result = await self.connector.call(
                    self.fn.name, envelope.coalesce([m.data for m in msgs]), timeout=self.timeout + 5,
                    headers={"Content-Type": "application/json", "X-Nats-Subject": msgs[0].subject,
                             envelope.COALESCED_HEADER: str(len(msgs))})
            if result.outcome is Outcome.OK:
                _coalesced.labels(self.fn.name, self.topic, "ok").inc()
                self.connector.outage(self.fn.name).recovered()
                self.unavailable = 0
                for msg in msgs:
                    self.failures.pop(msg.metadata.sequence.stream, None)
                await asyncio.gather(*(msg.ack() for msg in msgs))
                self.count("acked", len(msgs))
                return None
            _coalesced.labels(self.fn.name, self.topic, "one_by_one").inc()
            log.debug("a coalesced call failed; its messages are called one by one",
                      extra={"function": self.fn.name, "messages": len(msgs), "status": result.status})
            unsettled: BaseException | None = None
            for index, msg in enumerate(msgs):
                async with returned_if_cancelled(*msgs[index + 1:]):  # `handle` returns its own
                    try:
                        await asyncio.gather(*(m.in_progress() for m in msgs[index:]))  # ack_wait ran from the fetch
                        await self.handle(msg)
                    except Exception as exc:  # an ack or nak lost: that message comes back; the others go on
                        unsettled = exc
            if unsettled is not None:
                raise unsettled
        return None

    async def handle(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        async with returned_if_cancelled(msg):
            result = await self.connector.call(self.fn.name, msg.data, timeout=self.timeout + 5,
                                               headers={"Content-Type": "application/json",
                                                        "X-Nats-Subject": msg.subject})
        outcome = result.outcome
        outage = self.connector.outage(self.fn.name)
        if outcome is Outcome.UNAVAILABLE or result.timed_out:
            outage.failed(result.reason[:500])
        else:
            outage.recovered()
        self.unavailable = self.unavailable + 1 if outcome is Outcome.UNAVAILABLE else 0
        if outcome is Outcome.OK:
            self.failures.pop(seq, None)
            await msg.ack()
            self.count("acked")
        elif outcome is Outcome.BAD_INPUT:
            await self.dead_letter(msg, result, "bad_input")
        elif outcome is Outcome.UNAVAILABLE:  # back for a later probe
            await msg.nak(delay=self.probe_delay())
            self.count("unavailable")
        else:
            failed = self.failures[seq] = self.failures.get(seq, 0) + 1
            if failed >= self.max_deliver:
                await self.dead_letter(msg, result, "max_deliveries")
            else:
                await msg.nak(delay=backoff(self.backoff_base, failed))
                self.count("retried")

    async def dead_letter(self, msg: Msg, result: Result, kind: str) -> None:
        """Publish the message with its reason to the DLQ (acknowledged), count it, then term it."""
        seq = msg.metadata.sequence.stream
        dlq_id = subjects.connector_dlq_id(self.fn.name, msg.metadata.stream, seq)
        entry = {"reason": result.reason, **dlq.payload_of(msg.data)}
        room = self.connector.nc.max_payload - PAYLOAD_MARGIN if self.connector.nc else dlq.DEFAULT_MAX_BYTES
        record = dlq.record(dlq_id, self.fn.name, msg.subject, [entry], max_bytes=room, kind=kind,
                            status=result.status, deliveries=msg.metadata.num_delivered, stream_sequence=seq)
        await self.connector.js.publish(subjects.DLQ, record, headers={"Nats-Msg-Id": dlq_id})
        self.count(f"dlq_{kind}")  # before the term: once the dead letter can be read, it is counted
        self.failures.pop(seq, None)
        await msg.term()
        log.warning("dead-lettered", extra={"function": self.fn.name, "topic": msg.subject, "kind": kind,
                                            "status": result.status, "stream_sequence": seq})


Direct = Callable[[str, bytes, dict[str, str], float], Awaitable[Result]]
"""(function, body, headers, timeout) -> its answer: a POST to /function/<name> made inside the gateway's own
process (the local runtime's), the same call as over HTTP without its loopback round trip."""


class TopicConnector:
    def __init__(self, nats_url: str, gateway: str, stream: str = subjects.STREAM, refresh_s: float = 30,
                 auth: dict[str, str] | None = None, key: str | None = None, direct: Direct | None = None) -> None:
        self.nats_url = nats_url
        self.gateway = gateway.rstrip("/")
        self.direct = direct  # invocations go through it when given; /system/functions is read over HTTP still
        self.stream = stream
        self.refresh_s = refresh_s
        self.auth = auth  # a real OpenFaaS gateway's basic auth, sent on /system/functions and invocations
        self.key = key  # the connector-key every invocation is signed with (ingestor.signedcalls)
        self.refresh_error: str | None = "not yet read"  # why the last read of /system/functions failed
        self.nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._session: aiohttp.ClientSession | None = None
        self.subscriptions: dict[tuple[str, str], Subscription] = {}
        self._refresher: asyncio.Task[None] | None = None
        self.fetching = Outage(log, "cannot fetch messages from NATS; retrying every second",
                               "fetching messages from NATS again")
        self._outages: dict[str, Outage] = {}

    def outage(self, function: str) -> Outage:
        """The outage record of `function`: unavailable (503/429/401, gateway unreachable) or timing out."""
        if function not in self._outages:
            self._outages[function] = Outage(
                log, "function unavailable or timing out; its messages wait and are retried",
                "function answers again", function=function)
        return self._outages[function]

    async def call(self, name: str, body: bytes, *, timeout: float, headers: dict[str, str]) -> Result:
        """POST `body` to the function `name` through the gateway, signed with the connector's key."""
        if self.direct is None:
            return await invoke(self.session, self.gateway, name, body, timeout=timeout, headers=headers,
                                key=self.key)
        result = await self.direct(name, body, signed(headers, self.key, "POST", "", "", body), timeout)
        return refusal_noted(result, name, self.key)

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "connector not started"
        return self._js

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "connector not started"
        return self._session

    @property
    def nats_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def start(self, require_gateway: bool = True) -> None:
        """Connect and subscribe. Alone beside a gateway that is still starting (require_gateway=False),
        a first read of /system/functions that fails is retried every few seconds instead of raised."""
        self.nc = await nats.connect(self.nats_url, **natsconn.options(log, "topic-connector"))
        self._js = self.nc.jetstream(timeout=10)
        await streams.ensure_all(self._js)
        self._session = aiohttp.ClientSession(headers=self.auth)
        if require_gateway:
            await self.refresh()
        else:
            await self._try_refresh()
        self._refresher = asyncio.create_task(self._refresh_loop())

    async def refresh(self) -> None:
        """Subscribe functions that appeared on the gateway; stop those that went away."""
        wanted = {(fn.name, topic): fn for fn in await catalog.functions(self.session, self.gateway)
                  for topic in fn.topics if topic != subjects.CRON}
        self.refresh_error = None
        for key in set(self.subscriptions) - set(wanted):
            self.subscriptions.pop(key).stop()
        new = [Subscription(self, fn, key[1]) for key, fn in wanted.items() if key not in self.subscriptions]
        try:  # every consumer before any invocation: the queue keeps a message only for existing ones
            for sub in new:
                await sub.declare()
        except (nats.errors.Error, TimeoutError) as exc:  # none starts; the next refresh (in 2 s) tries again
            self.refresh_error = f"consumers not made: {type(exc).__name__}: {exc}"
            log.warning("could not make the functions' consumers; retrying", extra={"error": self.refresh_error})
            return
        for sub in new:
            self.subscriptions[(sub.fn.name, sub.topic)] = sub
            sub.task = asyncio.create_task(sub.run())
            log.info("subscribed", extra={"function": sub.fn.name, "topic": sub.topic})

    async def _try_refresh(self) -> None:
        try:
            await self.refresh()
        except aiohttp.ClientResponseError as exc:
            self.refresh_error = f"gateway answered {exc.status} on /system/functions"
            hint = " (check basic-auth-user / basic-auth-password)" if exc.status == 401 else ""
            log.warning(f"gateway refused the function list{hint}; keeping subscriptions",
                        extra={"status": exc.status})
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.refresh_error = f"gateway unreachable: {type(exc).__name__}"
            log.warning("gateway unreachable; keeping subscriptions", extra={"error": str(exc)})

    async def _refresh_loop(self) -> None:
        while True:  # after a failure, look again soon: a gateway that is starting answers within seconds
            await asyncio.sleep(self.refresh_s if self.refresh_error is None else min(self.refresh_s, 2.0))
            await self._try_refresh()

    async def stop(self) -> None:
        for sub in self.subscriptions.values():
            sub.stop()
        if self._refresher:
            self._refresher.cancel()
        await asyncio.gather(*(t for t in (self._refresher, *(s.task for s in self.subscriptions.values())) if t),
                             return_exceptions=True)
        if self._session:
            await self._session.close()
        if self.nc:
            await self.nc.close()

