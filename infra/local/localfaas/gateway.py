"""The local gateway: OpenFaaS's HTTP surface for the functions the supervisor runs.

/function/<name>[/path]        synchronous invoke (METHODS; the path as received, still percent-encoded,
                               the query and the headers pass through)
/async-function/<name>[/path]  202 + X-Call-Id; queued on NATS, result POSTed to X-Callback-Url (localfaas.asyncqueue)
/system/functions, /system/function/<name>   what stack.yml declares, with annotations; replicas 0 while a
                               function is scaled to zero (localfaas.scaletozero: its first call starts it)
/healthz, /metrics             the runtime's own health (503 while a part it supervises is down) and counters
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from ha_connector.catalog import timeout_of
from ha_connector.invoke import Result
from ingestor import jsoncodec, metrics
from ingestor.webhooks import ssrf
from localfaas.asyncqueue import CALLBACK_HEADER, AsyncQueue
from localfaas.directcall import DirectCalls, Failed
from localfaas.scaletozero import ScaleToZero, StartFailed
from localfaas.supervisor import Supervisor

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # what a function can be called with
_invocations = metrics.counter("gateway_invocations_total", "Invocations through the gateway", ["function", "code"])
_seconds = metrics.histogram("gateway_invocation_seconds", "Invocation latency through the gateway", ["function"])


def error(status: int, code: str, message: str, allow: tuple[str, ...] = ()) -> web.Response:
    headers = {"Allow": ", ".join(allow)} if allow else None
    return web.json_response({"error": {"code": code, "message": message}}, status=status, dumps=_dumps,
                             headers=headers)


def _dumps(value: Any) -> str:
    return jsoncodec.dumps(value).decode()


class Gateway:
    def __init__(self, supervisor: Supervisor, queue: AsyncQueue,
                 parts: dict[str, Callable[[], dict[str, Any]]] | None = None,
                 scaler: ScaleToZero | None = None) -> None:
        self.supervisor = supervisor
        self.scaler = scaler  # starts the functions labelled to scale to zero on their first call
        self.queue = queue
        self.parts = parts or {}  # what else the runtime supervises (nats-server): name -> {"down": bool, ...}
        self.invocations: dict[str, int] = {}
        self.session: aiohttp.ClientSession | None = None
        self.direct = DirectCalls()  # the topic connector's calls (`call`); HTTP callers go through `session`
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.add_routes([
            web.get("/healthz", self.healthz),
            web.get("/metrics", self.metrics),
            web.get("/system/functions", self.list_functions),
            web.get("/system/function/{name}", self.get_function),
            web.route("*", "/function/{name}", self.invoke),
            web.route("*", "/function/{name}/{tail:.*}", self.invoke),
            web.post("/async-function/{name}", self.invoke_async),
            web.post("/async-function/{name}/{tail:.*}", self.invoke_async),
            web.get("/", self.index),
        ])
        self.app.on_startup.append(self._open)
        self.app.on_cleanup.append(self._close)

    async def _open(self, _: web.Application) -> None:
        self.session = aiohttp.ClientSession(auto_decompress=False)

    async def _close(self, _: web.Application) -> None:
        if self.session:
            await self.session.close()
        self.direct.close()

    def _status(self, name: str) -> dict[str, Any]:
        fn = self.supervisor.functions[name]
        spec = fn.spec
        return {
            "name": name,
            "image": spec.image,
            "namespace": "openfaas-fn",
            "replicas": 1 if fn.wanted else 0,
            "availableReplicas": 1 if fn.ready else 0,
            "invocationCount": self.invocations.get(name, 0),
            "envProcess": "python index.py",
            "labels": spec.labels,
            "annotations": spec.annotations,
            "secrets": spec.secrets,
            "limits": spec.limits,
            "requests": spec.requests,
        }

    async def healthz(self, _: web.Request) -> web.Response:
        """200 while every supervised part runs (functions still starting make it degraded), else 503."""
        parts = {name: status() for name, status in self.parts.items()}
        not_ready = self.supervisor.not_ready
        down = sorted(name for name, part in parts.items() if part.get("down"))
        status = "unhealthy" if down else "degraded" if not_ready else "ok"
        body = {"status": status, **parts, "functions_not_ready": not_ready}
        return web.json_response(body, status=503 if down else 200, dumps=_dumps)

    async def metrics(self, _: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def index(self, request: web.Request) -> web.StreamResponse:
        if "dashboard" in self.supervisor.functions:  # relative links in the app resolve under its own path
            raise web.HTTPFound("/function/dashboard/")
        return web.json_response({"functions": sorted(self.supervisor.functions), "docs": "README.md"})

    async def list_functions(self, _: web.Request) -> web.Response:
        return web.json_response([self._status(n) for n in sorted(self.supervisor.functions)], dumps=_dumps)

    async def get_function(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.supervisor.functions:
            return error(404, "not_found", f"no function named {name!r}")
        return web.json_response(self._status(name), dumps=_dumps)

    async def invoke(self, request: web.Request) -> web.Response:
        if request.method not in METHODS:
            return error(405, "method_not_allowed", f"functions answer {', '.join(METHODS)}", allow=METHODS)
        return await self.forward(request, request.match_info["name"])

    async def forward(self, request: web.Request, name: str) -> web.Response:
        tail, query = as_received(request)
        return await self.dispatch(name, request.method, tail, query, request.headers, await request.read())

    async def call(self, name: str, body: bytes, headers: dict[str, str], timeout: float) -> Result:
        """The topic connector's POST to /function/<name> from inside this process (ha_connector.topics.Direct):
        what an HTTP call does (scale from zero, counters, X-Call-Id, the function's answer as it is), without
        a loopback request to itself per message, and with a leaner client than aiohttp's for the function's
        answer (localfaas.directcall)."""
        try:
            response = await asyncio.wait_for(self.dispatch(name, "POST", "", "", headers, body, direct=True),
                                              timeout)
        except TimeoutError:
            return Result(None, error="timeout")
        answer = response.body  # every answer here is made from bytes
        return Result(response.status, bytes(answer) if isinstance(answer, bytes | bytearray) else b"",
                      dict(response.headers))

    async def dispatch(self, name: str, method: str, tail: str, query: str, received: Mapping[str, str],
                       body: bytes, direct: bool = False) -> web.Response:
        """An invocation of `name` with its path `tail` and `query` as received (still percent-encoded); `direct`:
        a POST to its root from this process (`call`), made through localfaas.directcall."""
        if self.scaler is None or not self.scaler.manages(name):
            return await self._forward(name, method, tail, query, received, body, direct)
        if tail == "/_/metrics" and not self.scaler.is_running(name):
            return web.Response(text="")  # no counters at zero: a Prometheus scrape must not keep it running
        async with self.scaler.use(name):
            try:
                await self.scaler.start(name)
            except StartFailed as exc:
                _invocations.labels(name, "503").inc()
                return error(503, "function_unavailable", f"function {name} could not be started: {exc}")
            return await self._forward(name, method, tail, query, received, body, direct)

    async def _forward(self, name: str, method: str, tail: str, query: str, received: Mapping[str, str],
                       body: bytes, direct: bool = False) -> web.Response:
        fn = self.supervisor.functions.get(name)
        if fn is None:
            return error(404, "not_found", f"no function named {name!r}")
        if not fn.ready:
            _invocations.labels(name, "503").inc()
            return error(503, "function_unavailable", f"function {name} is not ready")
        assert self.session is not None
        headers = {k: v for k, v in received.items() if k.lower() not in HOP_BY_HOP}
        headers.setdefault("X-Call-Id", str(uuid.uuid4()))
        started = time.perf_counter()
        try:
            if direct:
                status, answer, answered = await self.direct.post(fn.url, headers, body,
                                                                  timeout_of(fn.spec.annotations))
                pairs = list(answered.items())
            else:
                async with self.session.request(
                    method, URL(f"{fn.url}{tail or '/'}" + (f"?{query}" if query else ""), encoded=True),
                    headers=headers,
                    data=body,
                    timeout=aiohttp.ClientTimeout(total=timeout_of(fn.spec.annotations)),
                ) as upstream:
                    status, answer, pairs = upstream.status, await upstream.read(), list(upstream.headers.items())
            out = {k: v for k, v in pairs if k.lower() not in HOP_BY_HOP}
            response = web.Response(status=status, body=answer, headers=out)
            self.supervisor.answered(name)
        except TimeoutError:
            response = error(504, "function_timeout", f"function {name} did not answer in time")
            self.supervisor.timed_out(name)
        except (aiohttp.ClientError, Failed) as exc:
            failure = str(exc) if isinstance(exc, Failed) else type(exc).__name__
            response = error(502, "function_failed", f"function {name} failed: {failure}")
        self.invocations[name] = self.invocations.get(name, 0) + 1
        _invocations.labels(name, str(response.status)).inc()
        _seconds.labels(name).observe(time.perf_counter() - started)
        response.headers["X-Call-Id"] = headers["X-Call-Id"]
        response.headers["X-Duration-Seconds"] = f"{time.perf_counter() - started:.6f}"
        return response

    async def invoke_async(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.supervisor.functions:
            return error(404, "not_found", f"no function named {name!r}")
        callback = request.headers.get(CALLBACK_HEADER)
        if callback is not None:
            try:
                await self.queue.check_callback(callback)
            except ssrf.UnsafeTarget as exc:
                return error(400, "bad_callback_url", f"{CALLBACK_HEADER}: {exc}")
        call_id = request.headers.get("X-Call-Id") or str(uuid.uuid4())
        await self.queue.enqueue(call_id, name, *as_received(request), request.headers, await request.read(),
                                 callback)
        return web.Response(status=202, headers={"X-Call-Id": call_id})


def as_received(request: web.Request) -> tuple[str, str]:
    """The path after /function/<name> and the query exactly as the client sent them (%2F, %3F and %23
    stay encoded: decoding them would move a path's "?" into the query or cut it at "#")."""
    path, _, query = request.raw_path.partition("?")
    _, _, rest = path.lstrip("/").partition("/")  # past "function" or "async-function"
    _, slash, tail = rest.partition("/")  # past the name: the function's own path
    return slash + tail, query
