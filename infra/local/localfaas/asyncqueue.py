"""Asynchronous invocations: queued on JetStream, run by a worker, results POSTed to X-Callback-Url."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import aiohttp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from ingestor import jsoncodec, metrics
from localfaas.invoke import Outcome, Result, invoke

log = logging.getLogger("async-queue")
STREAM = StreamConfig(name="FAAS_ASYNC", subjects=["faas.async.>"], storage=StorageType.FILE, max_age=86_400)
_calls = metrics.counter("async_calls_total", "Asynchronous invocations by outcome", ["function", "outcome"])
_callbacks = metrics.counter("async_callbacks_total", "Callback deliveries by outcome", ["outcome"])


class AsyncQueue:
    def __init__(self, js: JetStreamContext, max_deliver: int = 5, callback_attempts: int = 4) -> None:
        self.js = js
        self.gateway = ""
        self.max_deliver = max_deliver
        self.callback_attempts = callback_attempts
        self._task: asyncio.Task[None] | None = None

    async def enqueue(self, call_id: str, name: str, path: str, query: str, headers: dict[str, str],
                      body: bytes) -> None:
        doc = {"call_id": call_id, "function": name, "path": path, "query": query, "headers": headers,
               "body": base64.b64encode(body).decode()}
        await self.js.publish(f"faas.async.{name}", jsoncodec.dumps(doc), headers={"Nats-Msg-Id": call_id})

    def start(self, gateway: str) -> None:
        self.gateway = gateway
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        sub = await self.js.pull_subscribe(
            "faas.async.>", durable="queue-worker",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=600, max_deliver=-1),
        )
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    msgs = await sub.fetch(8, timeout=1)
                except TimeoutError:
                    continue
                await asyncio.gather(*(self._handle(session, m) for m in msgs))

    async def _handle(self, session: aiohttp.ClientSession, msg: Msg) -> None:
        call = jsoncodec.loads(msg.data)
        headers = {k: v for k, v in call["headers"].items() if k.lower() != "x-callback-url"}
        result = await invoke(session, self.gateway, call["function"], base64.b64decode(call["body"]),
                              path=call["path"], query=call["query"], headers=headers, timeout=300)
        attempt = msg.metadata.num_delivered
        if result.outcome in (Outcome.UNAVAILABLE, Outcome.FAILED) and attempt < self.max_deliver:
            await msg.nak(delay=min(2 ** attempt, 60))
            return
        _calls.labels(call["function"], result.outcome.value).inc()
        callback = next((v for k, v in call["headers"].items() if k.lower() == "x-callback-url"), None)
        if callback:
            await self._callback(session, callback, call, result)
        await msg.ack()

    async def _callback(self, session: aiohttp.ClientSession, url: str, call: dict[str, Any], result: Result) -> None:
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
                async with session.post(url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
                    if r.status < 500:
                        _callbacks.labels("delivered").inc()
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(2**attempt)
        _callbacks.labels("failed").inc()
        log.error("callback failed", extra={"call_id": call["call_id"], "attempts": self.callback_attempts})
