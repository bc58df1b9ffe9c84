"""The topic connector run alone beside a real OpenFaaS gateway (faasd, k3s): `python -m ha_connector`.

A real gateway protects /system/functions with basic auth: the credentials come from the OpenFaaS
secrets `basic-auth-user` / `basic-auth-password` (files in SECRETS_DIR, as OpenFaaS mounts them),
else BASIC_AUTH_USER / BASIC_AUTH_PASSWORD. Every invocation is signed with the `connector-key` secret
(else CONNECTOR_KEY), which the functions that change data require (ingestor.signedcalls). Operators get
/health (liveness: 200 while the process runs), /ready (200 while NATS is connected and the gateway's
function list was read) and /metrics (Prometheus). With --cron (CONNECTOR_CRON=true) the same process also
runs the cron connector, so one Deployment serves both kinds of trigger; run it as one replica then, or
schedules fire twice.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

import aiohttp
from aiohttp import web

from ha_connector.cron import CronConnector
from ha_connector.topics import TopicConnector
from ingestor import config, jsoncodec, logs, metrics, signedcalls

log = logging.getLogger(__name__)
DEFAULT_USER = "admin"  # OpenFaaS's default gateway user


def gateway_auth() -> dict[str, str]:
    """The gateway's basic auth as the header every request carries, or none when no password is configured (the
    local gateway needs none)."""
    password = config.secret("basic-auth-password", "BASIC_AUTH_PASSWORD")
    if not password:
        return {}
    return basic_auth(config.secret("basic-auth-user", "BASIC_AUTH_USER") or DEFAULT_USER, password)


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


def status(connector: TopicConnector, cron: CronConnector | None) -> dict[str, Any]:
    ready = connector.nats_connected and connector.refresh_error is None
    return {"status": "ok" if ready else "degraded", "nats_connected": connector.nats_connected,
            "gateway": connector.gateway, "gateway_error": connector.refresh_error,
            "gateway_auth": connector.auth is not None, "connector_key": connector.key is not None,
            "cron": cron is not None,
            "subscriptions": sorted(f"{fn}:{topic}" for fn, topic in connector.subscriptions)}


def app(connector: TopicConnector, cron: CronConnector | None) -> web.Application:
    def answer(body: dict[str, Any], code: int) -> web.Response:
        return web.Response(status=code, body=jsoncodec.dumps(body), content_type="application/json")

    async def health(_: web.Request) -> web.Response:  # restarting would not bring NATS or the gateway back
        return answer(status(connector, cron), 200)

    async def ready(_: web.Request) -> web.Response:
        body = status(connector, cron)
        return answer(body, 200 if body["status"] == "ok" else 503)

    async def exposition(_: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    application = web.Application()
    application.add_routes([web.get("/health", health), web.get("/ready", ready), web.get("/metrics", exposition)])
    return application


async def run(args: argparse.Namespace) -> None:
    auth = gateway_auth()
    key = signedcalls.key()
    if not key:
        log.warning("no connector-key secret: functions with REQUIRE_CONNECTOR_SIGNATURE refuse this connector's "
                    "calls, which then wait (make secrets creates it; mount it beside basic-auth)")
    connector = TopicConnector(args.nats_url, args.gateway, refresh_s=args.refresh_s, auth=auth, key=key)
    cron = CronConnector(args.gateway, refresh_s=args.refresh_s, auth=auth, key=key) if args.cron else None
    runner = web.AppRunner(app(connector, cron), access_log=None)
    await runner.setup()
    try:
        if args.http_port:
            await web.TCPSite(runner, args.http_host, args.http_port).start()
        await connector.start(require_gateway=False)
        if cron:
            cron.start()
        log.info("started", extra={"gateway": args.gateway, "gateway_auth": auth is not None, "cron": bool(cron),
                                   "http_port": args.http_port})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if cron:
            await cron.stop()
        await connector.stop()
        await runner.cleanup()
        log.info("stopped")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ha_connector",
                                description="HA Ingestor's JetStream topic connector (and cron) for OpenFaaS")
    p.add_argument("--nats-url", default=config.env_str("NATS_URL", "nats://nats.openfaas:4222"))
    p.add_argument("--gateway", default=config.env_str("GATEWAY_URL", "http://gateway.openfaas:8080"))
    p.add_argument("--cron", action="store_true", default=config.env_bool("CONNECTOR_CRON", False),
                   help="also invoke `topic: cron-function` functions on their schedule")
    p.add_argument("--http-host", default=config.env_str("CONNECTOR_HTTP_HOST", "0.0.0.0"))
    p.add_argument("--http-port", type=int, default=config.env_int("CONNECTOR_HTTP_PORT", 8080),
                   help="/health, /ready, /metrics (0: off)")
    p.add_argument("--refresh-s", type=float, default=config.env_float("CONNECTOR_REFRESH_S", 30.0),
                   help="how often the gateway's function list is read")
    return p


def main() -> None:
    logs.setup("topic-connector")
    asyncio.run(run(parser().parse_args()))
