"""Asynchronous invocations: queued on JetStream, run by a worker, results POSTed to X-Callback-Url.

A queued call keeps only the headers a function needs to read the request (FORWARDED, an allowlist):
credentials (Authorization, X-API-Key, cookies, the connectors' signature) never rest in JetStream,
so a function that needs one cannot be called asynchronously. The callback URL passes the webhooks'
SSRF guard when the call is accepted (else 400) and again before the result is sent (DNS can change,
and anyone who can publish on NATS can queue a call); redirects are not followed. Loopback, private
and link-local callbacks need WEBHOOK_ALLOW_PRIVATE_TARGETS=true, as webhooks do.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from ha_connector.invoke import Outcome, Result, invoke
from ha_connector.settle import returned_if_cancelled
from ingestor import jsoncodec, metrics, subjects
from ingestor.outage import Outage
from ingestor.webhooks import ssrf

log = logging.getLogger(__name__)
STREAM = StreamConfig(name=subjects.ASYNC_STREAM, subjects=[subjects.async_subject(">")], storage=StorageType.FILE,
                      max_age=86_400)
CALLBACK_HEADER = "X-Callback-Url"
FORWARDED = frozenset({"accept", "accept-language", "content-encoding", "content-language", "content-type",
                       "user-agent", "x-call-id", "x-request-id", "traceparent", "tracestate"})
_calls = metrics.counter("async_calls_total", "Asynchronous invocations by outcome", ["function", "outcome"])
_callbacks = metrics.counter("async_callbacks_total", "Callback deliveries by outcome", ["outcome"])


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """What of a request's headers is queued with it: the FORWARDED ones, nothing that authenticates."""
    return {k: v for k, v in headers.items() if k.lower() in FORWARDED}


class AsyncQueue:
    def __init__(self, js: JetStreamContext, allow_private: bool = False, max_deliver: int = 5,
                 callback_attempts: int = 4) -> None:
        self.js = js
        self.gateway = ""
        self.allow_private = allow_private  # WEBHOOK_ALLOW_PRIVATE_TARGETS: callbacks inside the network
        self.max_deliver = max_deliver
        self.callback_attempts = callback_attempts
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # as the topic connector's: a cancel can be swallowed by a fetch (Subscription.stop)

    async def check_callback(self, url: str) -> str:
        """The URL when a result may be sent there; ssrf.UnsafeTarget saying why not otherwise."""
        return await asyncio.to_thread(ssrf.check, url, self.allow_private)

    async def enqueue(self, call_id: str, name: str, path: str, query: str, headers: Mapping[str, str],
                      body: bytes, callback: str | None) -> None:
        """Queues a call; `path` and `query` as received (percent-encoded), `callback` already checked."""
        doc = {"call_id": call_id, "function": name, "path": path, "query": query,
               "headers": {**kept_headers(headers), "X-Call-Id": call_id}, "callback": callback,
               "body": base64.b64encode(body).decode()}
        await self.js.publish(subjects.async_subject(name), jsoncodec.dumps(doc), headers={"Nats-Msg-Id": call_id})

    def start(self, gateway: str) -> None:
        self.gateway = gateway
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        sub = await self.js.pull_subscribe(
            subjects.async_subject(">"), durable="queue-worker",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=600, max_deliver=-1),
        )
        fetching = Outage(log, "cannot fetch queued calls from NATS; retrying every second",
                          "fetching queued calls from NATS again")
        async with aiohttp.ClientSession() as session:
            while not self._stopping:
                try:
                    msgs = await sub.fetch(8, timeout=1)
                except TimeoutError:
                    fetching.recovered()
                    continue
                except Exception as exc:  # NATS down or restarting: nats-py reconnects, the worker waits
                    fetching.failed(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(1)
                    continue
                fetching.recovered()
                await asyncio.gather(*(self._handle(session, m) for m in msgs))

    async def _handle(self, session: aiohttp.ClientSession, msg: Msg) -> None:
        call = jsoncodec.loads(msg.data)
        async with returned_if_cancelled(msg):
            result = await invoke(session, self.gateway, call["function"], base64.b64decode(call["body"]),
                                  path=call["path"], query=call["query"], headers=kept_headers(call["headers"]),
                                  timeout=300)
        attempt = msg.metadata.num_delivered
        if result.outcome in (Outcome.UNAVAILABLE, Outcome.FAILED) and attempt < self.max_deliver:
            await msg.nak(delay=min(2 ** attempt, 60))
            return
        _calls.labels(call["function"], result.outcome.value).inc()
        if call.get("callback"):
            await self._callback(session, call["callback"], call, result)
        await msg.ack()

    async def _callback(self, session: aiohttp.ClientSession, url: str, call: dict[str, Any], result: Result) -> None:
        try:
            await self.check_callback(url)
        except ssrf.UnsafeTarget as exc:
            _callbacks.labels("refused").inc()
            log.error("callback refused", extra={"call_id": call["call_id"], "reason": str(exc)})
            return
        headers = {
            "X-Call-Id": call["call_id"],
            "X-Function-Name": call["function"],
            "X-Function-Status": str(result.status or 502),
            "Content-Type": result.headers.get("Content-Type", "application/octet-stream"),
        }
        body = result.body if result.status else jsoncodec.dumps({"error": {"code": "invoke_failed",
                                                                              "message": result.reason}})
        for attempt in range(self.callback_attempts):
            try:
                async with session.post(url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=10),
                                        allow_redirects=False) as r:
                    if r.status < 500:
                        _callbacks.labels("delivered").inc()
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(2**attempt)
        _callbacks.labels("failed").inc()
        log.error("callback failed", extra={"call_id": call["call_id"], "attempts": self.callback_attempts})
