"""Signs OpenFaaS cron-connector's calls, but only the calls its schedules make: `python -m ha_connector.cronsigner`.

The cron functions (context-poll, sports-poll, retention-archive) accept only calls signed with the
`connector-key` (ingestor.signedcalls). OpenFaaS's cron-connector cannot sign, and the gateway tells a
function nothing about who called it, so the cron-connector's `gateway_url` points here instead:

- GET /system/namespaces, /system/functions, /system/function/<name>: passed to the gateway as they come,
  with the cron-connector's own basic auth (the gateway checks it); nothing else of /system is served.
- POST /function/<name>[.<namespace>], empty body, no path or query after the name: signed and passed on
  only when <name> is annotated `topic: cron-function` and its `schedule` (read from the gateway with this
  signer's own basic auth) had a tick within the last GRACE_S seconds that nothing was signed for yet.
  Anything else is refused (403), counted and logged once per function and reason.

So whoever reaches this port gets nothing the schedule was not about to do anyway: one run per tick, of a
cron function, with no input. Keep it in the cron-connector's pod (a sidecar on 127.0.0.1), where nothing
else reaches it at all. Schedules are read in UTC, as cron-connector reads them in its image.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from croniter import croniter

from ha_connector import catalog
from ha_connector.catalog import FunctionInfo, timeout_of
from ha_connector.invoke import invoke
from ha_connector.service import gateway_auth
from ingestor import config, logs, metrics, signedcalls

log = logging.getLogger(__name__)
GRACE_S = 30.0
PASSED = ("/system/namespaces", "/system/functions")
_calls = metrics.counter("cron_signer_calls_total", "cron-connector calls by outcome", ["function", "outcome"])


class Gate:
    """One signature per function per schedule tick, within `grace_s` of the tick."""

    def __init__(self, grace_s: float = GRACE_S) -> None:
        self.grace_s = grace_s
        self.signed: dict[str, dt.datetime] = {}  # function -> the tick last signed for

    def admit(self, name: str, schedule: str, now: dt.datetime) -> str | None:
        """None, and the tick is used, when a call to `name` is due at `now`; else why it is not."""
        tick = croniter(schedule, now).get_prev(dt.datetime)
        if croniter.match(schedule, now.replace(second=0, microsecond=0)):
            tick = now.replace(second=0, microsecond=0)  # `now` is within a tick's own minute
        if (now - tick).total_seconds() > self.grace_s:
            return f"not due: its last tick ({tick:%Y-%m-%d %H:%M} UTC) is more than {self.grace_s:g} s ago"
        if self.signed.get(name) == tick:
            return f"already signed for its {tick:%Y-%m-%d %H:%M} UTC tick"
        self.signed[name] = tick
        return None


class CronSigner:
    def __init__(self, gateway: str, key: str, auth: dict[str, str] | None, refresh_s: float = 10.0,
                 gate: Gate | None = None, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.gateway = gateway.rstrip("/")
        self.key = key
        self.auth = auth  # this signer's own: it reads the schedules itself, never trusting the caller's list
        self.refresh_s = refresh_s
        self.gate = gate or Gate()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.functions: dict[str, FunctionInfo] = {}
        self._read_at = -refresh_s
        self._logged: set[tuple[str, str]] = set()
        self.session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=1024 * 1024)
        self.app.add_routes([
            web.get("/healthz", self.healthz),
            web.get("/metrics", self.exposition),
            web.get("/system/{what:namespaces|functions}", self.pass_through),
            web.get("/system/function/{name}", self.pass_through),
            web.route("*", "/function/{target}", self.call),
            web.route("*", "/function/{target}/{tail:.*}", self.refuse_path),
        ])
        self.app.cleanup_ctx.append(self._session)

    async def _session(self, _: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(auto_decompress=False) as self.session:
            yield

    async def healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def exposition(self, _: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def pass_through(self, request: web.Request) -> web.Response:
        assert self.session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "accept")}
        try:
            async with self.session.get(f"{self.gateway}{request.rel_url}", headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=10)) as r:
                return web.Response(status=r.status, body=await r.read(),
                                    content_type=r.content_type or "application/json")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.Response(status=502, text=f"gateway unreachable: {type(exc).__name__}")

    def _refuse(self, name: str, outcome: str, reason: str) -> web.Response:
        _calls.labels(name, outcome).inc()
        if (name, outcome) not in self._logged:  # a caller repeating itself is counted, not logged again
            self._logged.add((name, outcome))
            log.warning("call refused, not signed", extra={"function": name, "outcome": outcome, "reason": reason})
        return web.json_response({"error": {"code": outcome, "message": reason}}, status=403)

    async def refuse_path(self, request: web.Request) -> web.Response:
        name = request.match_info["target"].partition(".")[0]
        return self._refuse(name, "refused_path", "cron calls have no path after the function's name")

    async def _lookup(self, name: str) -> FunctionInfo | None:
        """The function as the gateway lists it, read again every `refresh_s` or when it is unknown."""
        assert self.session is not None
        stale = time.monotonic() - self._read_at > self.refresh_s
        if stale or name not in self.functions:
            async with aiohttp.ClientSession(headers=self.auth) as session:
                listed = await catalog.functions(session, self.gateway)
            self.functions = {fn.name: fn for fn in listed}
            self._read_at = time.monotonic()
        return self.functions.get(name)

    async def call(self, request: web.Request) -> web.Response:
        target = request.match_info["target"]
        name = target.partition(".")[0]
        if request.method != "POST" or request.query_string or await request.read():
            return self._refuse(name, "refused_request", "cron calls are a POST with no query and no body")
        try:
            fn = await self._lookup(name)
        except (aiohttp.ClientError, TimeoutError) as exc:
            _calls.labels(name, "gateway_unreachable").inc()
            log.error("cannot read the functions' schedules", extra={"error": str(exc)[:300]})
            return web.Response(status=502, text="the gateway's function list could not be read")
        if fn is None or fn.schedule is None:
            return self._refuse(name, "not_cron_function", f"{name} is not a function with topic cron-function")
        reason = self.gate.admit(name, fn.schedule, self.clock())
        if reason is not None:
            return self._refuse(name, "not_due", f"{name}: {reason}")
        assert self.session is not None
        passed = {k: v for k, v in request.headers.items() if k.lower() in ("x-topic", "x-connector", "x-call-id")}
        result = await invoke(self.session, self.gateway, target, b"", timeout=timeout_of(fn.annotations) + 5,
                              headers={**passed, "X-Trigger": "cron"}, key=self.key)
        _calls.labels(name, result.outcome.value).inc()
        if result.status is None:
            return web.Response(status=502, text=result.reason)
        return web.Response(status=result.status, body=result.body,
                            content_type=result.headers.get("Content-Type", "application/octet-stream").split(";")[0])


async def run(args: argparse.Namespace) -> None:
    key = signedcalls.key()
    if not key:
        raise SystemExit(f"no {signedcalls.SECRET} secret (SECRETS_DIR) and no CONNECTOR_KEY: nothing to sign with")
    signer = CronSigner(args.gateway, key, gateway_auth(), refresh_s=args.refresh_s, gate=Gate(args.grace_s))
    runner = web.AppRunner(signer.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    log.info("started", extra={"gateway": args.gateway, "listen": f"{args.host}:{args.port}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ha_connector.cronsigner", description=__doc__.split("\n")[0])
    p.add_argument("--gateway", default=config.env_str("GATEWAY_URL", "http://gateway.openfaas:8080"))
    p.add_argument("--host", default=config.env_str("CRON_SIGNER_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=config.env_int("CRON_SIGNER_PORT", 8081))
    p.add_argument("--grace-s", type=float, default=config.env_float("CRON_SIGNER_GRACE_S", GRACE_S))
    p.add_argument("--refresh-s", type=float, default=config.env_float("CRON_SIGNER_REFRESH_S", 10.0))
    return p


if __name__ == "__main__":
    logs.setup("cron-signer")
    asyncio.run(run(parser().parse_args()))
