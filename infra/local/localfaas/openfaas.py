"""`python -m localfaas.openfaas`: OpenFaaS's real gateway in front of the local provider, as on faasd.

NATS with JetStream, the provider (localfaas.provider: functions as processes), OpenFaaS's gateway built
by `make tools` (basic auth on), and the project's topic connector discovering functions through that
gateway with basic auth; with --cron also the project's cron (OpenFaaS's cron-connector goes through
ha_connector.cronsigner instead; docs/deploy.md). Nothing is deployed: `faas-cli login`, `faas-cli secret
create` and `make deploy OPENFAAS_URL=<gateway>` do that, with NATS_URL and DATA_DIR exported as printed.
Prints one JSON line when ready: the URLs and the secrets folder (`basic-auth-user`, `basic-auth-password`,
`connector-key`; made on first start). `make run` stays the one-command way to run HA Ingestor; this is
the deployment path, exercised here.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

import nats
from aiohttp import web

from ha_connector import service
from ha_connector.cron import CronConnector
from ha_connector.topics import TopicConnector
from ingestor import jsoncodec, logs, redaction, streams
from localfaas import ports
from localfaas.natsserver import NatsServer
from localfaas.ofgateway import OpenFaaSGateway
from localfaas.provider import Provider
from localfaas.runtime import _until_signalled, connector_key

REPO = Path(__file__).resolve().parents[3]


def basic_auth(secrets_dir: Path) -> tuple[str, str]:
    """The gateway's user and password: the secrets basic-auth-user / basic-auth-password, made when missing."""
    values = []
    for name, default in (("basic-auth-user", "admin"), ("basic-auth-password", None)):
        path = secrets_dir / name
        if not path.is_file() or not path.read_text().strip():
            secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.touch(mode=0o600)
            path.write_text(default or secrets.token_urlsafe(24))
        values.append(path.read_text().strip())
    redaction.register(values[1])
    return values[0], values[1]


async def run(args: argparse.Namespace) -> None:
    data_dir, secrets_dir = args.data_dir.resolve(), args.secrets_dir.resolve()
    user, password = basic_auth(secrets_dir)
    key = connector_key(secrets_dir)
    nats_server = NatsServer(data_dir / "nats", port=args.nats_port)
    await asyncio.to_thread(nats_server.start)
    nc = await nats.connect(nats_server.url, name="openfaas-provider")
    js = nc.jetstream(timeout=10)
    await streams.ensure_all(js)
    # no asynchronous invocations: OpenFaaS CE's gateway queues them on NATS Streaming, which is not run here
    provider = Provider(REPO, data_dir / "provider", {"NATS_URL": nats_server.url, "DATA_DIR": str(data_dir)},
                        credentials=(user, password))
    provider_socket = ports.listener()
    provider_runner = web.AppRunner(provider.app, access_log=None, shutdown_timeout=5)
    await provider_runner.setup()
    await web.SockSite(provider_runner, provider_socket).start()
    gateway = OpenFaaSGateway(provider_socket.getsockname()[1], secrets_dir, data_dir / "gateway", port=args.port)
    connector: TopicConnector | None = None
    cron: CronConnector | None = None
    try:
        await asyncio.to_thread(gateway.start)
        auth = service.basic_auth(user, password)
        connector = TopicConnector(nats_server.url, gateway.url, auth=auth, key=key)
        await connector.start(require_gateway=False)
        if args.cron:
            cron = CronConnector(gateway.url, auth=auth, key=key)
            cron.start()
        ready = {"event": "ready", "gateway": gateway.url,
                 "gateway_metrics": f"http://127.0.0.1:{gateway.metrics_port}",
                 "provider": f"http://127.0.0.1:{provider_socket.getsockname()[1]}",
                 "nats": nats_server.url, "data_dir": str(data_dir), "secrets_dir": str(secrets_dir)}
        print(jsoncodec.dumps(ready).decode(), flush=True)
        await _until_signalled()
    finally:
        if cron is not None:
            await cron.stop()
        if connector is not None:
            await connector.stop()
        await asyncio.to_thread(gateway.stop)
        await provider_runner.cleanup()  # stops every function
        await nc.close()
        await asyncio.to_thread(nats_server.stop)


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m localfaas.openfaas", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8080, help="the gateway's port on 127.0.0.1 (0: any free port)")
    p.add_argument("--nats-port", type=int, default=0)
    p.add_argument("--cron", action="store_true", help="also run the cron schedules (the project's own cron)")
    p.add_argument("--data-dir", type=Path, default=Path(".data/openfaas"))
    p.add_argument("--secrets-dir", type=Path, default=Path(".secrets"))
    args = p.parse_args()
    logs.setup("openfaas-provider")
    try:
        asyncio.run(run(args))
    except (RuntimeError, OSError) as exc:
        print(f"openfaas provider: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
