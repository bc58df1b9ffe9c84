"""Starts the whole local stack in order and stops it in reverse: NATS, functions, gateway, connectors."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import nats
from aiohttp import web

from ha_connector.cron import CronConnector
from ha_connector.topics import TopicConnector
from ingestor import apikeys, config, jsoncodec, natsconn, redaction, signedcalls, streams
from localfaas import bridge as ha_bridge
from localfaas import ports
from localfaas import stack as stackfile
from localfaas.asyncqueue import STREAM as ASYNC_STREAM
from localfaas.asyncqueue import AsyncQueue
from localfaas.gateway import Gateway
from localfaas.natsserver import NatsServer
from localfaas.natswatch import NatsWatch
from localfaas.scaletozero import ScaleToZero, idle_after
from localfaas.shutdown import stop_parts
from localfaas.supervisor import Supervisor

log = logging.getLogger(__name__)
STOP_CALLS_S = 5.0


@dataclass(frozen=True)
class Options:
    stack: Path
    port: int
    nats_port: int
    data_dir: Path
    secrets_dir: Path


def kept_secret(secrets_dir: Path, name: str) -> tuple[str, bool]:
    """`secrets_dir/name`'s value, made (random, mode 0600) when missing or empty; and whether it was made now."""
    path = secrets_dir / name
    made = not path.is_file() or not path.read_text(encoding="utf-8").strip()
    if made:
        secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
    value = path.read_text(encoding="utf-8").strip()
    redaction.register(value)
    return value, made


def connector_key(secrets_dir: Path) -> str:
    """The key the connectors sign with and the functions check: .secrets/connector-key, made on first run."""
    key, made = kept_secret(secrets_dir, signedcalls.SECRET)
    if made:
        log.info("generated the connector-key secret", extra={"path": str(secrets_dir / signedcalls.SECRET)})
    return key


def api_keys(secrets_dir: Path) -> None:
    """Every API key that guards data-changing routes (ingestor.apikeys), made on first run unless the user set
    it: a file already in the secrets folder, or its environment variable (which the functions inherit). The
    user is told once where to read a key made now; the key itself is never logged."""
    for key in apikeys.ALL:
        if os.environ.get(key.env):
            continue
        _, made = kept_secret(secrets_dir, key.secret)
        if made:
            path = secrets_dir / key.secret
            log.info("generated an API key: calls that change data through its API send it as X-API-Key "
                     "(read it from the file at path)", extra={"secret": key.secret, "path": str(path)})


async def run(options: Options) -> None:
    gateway_socket = ports.listener(port=options.port)  # bound now: its port is ours before anyone learns it
    nats_server = NatsServer(options.data_dir / "nats", port=options.nats_port)
    await asyncio.to_thread(nats_server.start)
    bridges = ha_bridge.plan(nats_server.url, options.data_dir, options.secrets_dir)
    # stack.yml's ${NATS_URL:-…}, ${DATA_DIR:-…}, ${GATEWAY_URL:-…} and ${BRIDGE_URL:-…} resolve to this runtime
    os.environ["NATS_URL"] = nats_server.url
    os.environ["DATA_DIR"] = str(options.data_dir)
    os.environ["GATEWAY_URL"] = f"http://127.0.0.1:{gateway_socket.getsockname()[1]}"
    if bridges is not None:  # the health function reads every replica's /health
        os.environ["BRIDGE_URL"] = ",".join(url.removesuffix("/health") for url in bridges.health_urls)
    stack = stackfile.load(options.stack)
    key = connector_key(options.secrets_dir)
    api_keys(options.secrets_dir)
    nc = await nats.connect(nats_server.url, **natsconn.options(log, "local-runtime"))
    js = nc.jetstream(timeout=10)

    async def ensure_streams() -> None:
        await streams.ensure_all(js)
        await streams.ensure(js, ASYNC_STREAM)

    await ensure_streams()
    nats_watch = NatsWatch(nats_server, on_restart=ensure_streams)
    nats_watch.start()

    supervisor = Supervisor(stack, {"NATS_URL": nats_server.url, "DATA_DIR": str(options.data_dir)},
                            options.secrets_dir)
    queue = AsyncQueue(js, allow_private=config.env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False))
    scaler = ScaleToZero(supervisor)
    gateway = Gateway(supervisor, queue, parts={"nats": nats_watch.status}, scaler=scaler)
    # on Ctrl-C a call still in the gateway gets 5 s (its message, unacknowledged, is redelivered later)
    runner = web.AppRunner(gateway.app, access_log=None, shutdown_timeout=STOP_CALLS_S)
    connector: TopicConnector | None = None
    cron: CronConnector | None = None
    try:
        # functions labelled to scale to zero start on their first call (localfaas.scaletozero)
        await supervisor.start(names=[n for n, spec in stack.functions.items() if idle_after(spec) is None])
        scaler.begin(lambda: list(stack.functions))
        await runner.setup()
        await web.SockSite(runner, gateway_socket).start()
        gateway_url = os.environ["GATEWAY_URL"]
        queue.start(gateway_url)
        connector = TopicConnector(nats_server.url, gateway_url, key=key, direct=gateway.call)
        await connector.start()
        cron = CronConnector(gateway_url, key=key)
        cron.start()
        if bridges is not None:
            await bridges.start()
        urls = bridges.health_urls if bridges else []
        ready = {"event": "ready", "gateway": gateway_url, "nats": nats_server.url,
                 "bridge": urls[0] if urls else None, "bridges": urls,
                 "functions": {n: fn.url for n, fn in supervisor.functions.items()},
                 "pids": {n: fn.proc.pid for n, fn in supervisor.functions.items() if fn.proc},
                 "scaled_to_zero": sorted(n for n, fn in supervisor.functions.items() if not fn.wanted),
                 "not_ready": supervisor.not_ready}  # each with the reason; the supervisor keeps restarting them
        (options.data_dir / "runtime.json").write_bytes(jsoncodec.dumps(ready))
        print(jsoncodec.dumps(ready).decode(), flush=True)
        log.info("ready", extra={"gateway": gateway_url, "nats": nats_server.url,
                                 "not_ready": sorted(supervisor.not_ready)})
        await _until_signalled()
    finally:
        log.info("stopping")
        await stop_parts([
            ("gateway-bridge", bridges and bridges.stop), ("cron", cron and cron.stop), ("scaler", scaler.close),
            ("connector", connector and connector.stop), ("async queue", queue.stop), ("gateway", runner.cleanup),
            ("functions", supervisor.stop), ("runtime's NATS client", nc.close),
            ("nats supervision", nats_watch.stop), ("nats-server", lambda: asyncio.to_thread(nats_server.stop))])
        gateway_socket.close()
        (options.data_dir / "runtime.json").unlink(missing_ok=True)
        log.info("stopped")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main(options: Options) -> int:
    try:
        asyncio.run(run(options))
    except (stackfile.StackError, RuntimeError, OSError) as exc:
        print(f"local runtime: {exc}", file=sys.stderr)
        return 1
    return 0
