"""The topic connector alone beside a gateway that requires basic auth, as OpenFaaS's does (faasd, k3s)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ha_connector.service import gateway_auth
from ingestor import envelope, signedcalls, subjects
from localfaas import ports, procs
from localfaas.natsserver import NatsServer
from tests.support import http
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import REPO

pytestmark = pytest.mark.integration

USER, PASSWORD = "admin", "s3cret-gateway-password"
CONNECTOR_KEY = "connector-key-shared-with-the-functions"
FUNCTIONS = [
    {"name": "sink", "annotations": {"topic": subjects.RAW, "com.ha-ingestor.timeout": "5s"}},
    {"name": "tick", "annotations": {"topic": "cron-function", "schedule": "17 3 * * *"}},
]


class Gateway(ThreadingHTTPServer):
    """OpenFaaS's surface the connector uses: /system/functions and /function/<name>, behind basic auth."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, authorized)
        self.invocations: list[bytes] = []
        self.signatures: list[str | None] = []  # X-Connector-Signature of each invocation
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        ok = self.headers.get("Authorization") == self.server.expected
        self.server.requests.append((self.command, self.path, ok))
        if not ok:
            self._reply(401, {"error": "unauthorized"})
        return ok

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self._authorized():
            self._reply(200, FUNCTIONS if self.path == "/system/functions" else {})

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self._authorized():
            self.server.invocations.append(body)
            self.server.signatures.append(self.headers.get(signedcalls.HEADER))
            self._reply(200, {"accepted": True})


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture()
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    yield server
    server.shutdown()
    server.server_close()


def start_connector(tmp_path: Path, nats_url: str, gateway_url: str, password: str,
                    port: int) -> tuple[subprocess.Popen[bytes], str]:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "basic-auth-user").write_text(USER + "\n")
    (secrets / "basic-auth-password").write_text(password + "\n")
    (secrets / "connector-key").write_text(CONNECTOR_KEY + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("functions/common", "infra/connector")),
           "SECRETS_DIR": str(secrets), "NATS_URL": nats_url, "GATEWAY_URL": gateway_url,
           "CONNECTOR_HTTP_HOST": "127.0.0.1", "CONNECTOR_HTTP_PORT": str(port), "CONNECTOR_CRON": "true"}
    log = open(tmp_path / "connector.log", "wb")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen([sys.executable, "-m", "ha_connector"], cwd=REPO, env=env, stdout=log, stderr=log)
    log.close()
    return proc, f"http://127.0.0.1:{port}"


def get(url: str) -> http.Reply | None:
    try:
        return http.call("GET", url, timeout=5)
    except OSError:
        return None


@pytest.fixture()
def admin_port() -> Iterator[int]:
    """A port for the connector's /health, /ready, /metrics, reserved while the connector may bind it."""
    with ports.reserve() as reserved:
        yield reserved.port


@pytest.fixture()
def stop_later() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        procs.stop(proc, grace=20)


def test_connector_reads_functions_and_invokes_them_with_the_gateway_basic_auth_and_signed(
        tmp_path: Path, nats_server: NatsServer, gateway: Gateway, stop_later: list[subprocess.Popen[bytes]],
        admin_port: int) -> None:
    proc, admin = start_connector(tmp_path, nats_server.url, gateway.url, PASSWORD, admin_port)
    stop_later.append(proc)
    assert wait_for(lambda: (r := get(admin + "/ready")) is not None and r.status == 200, 60), \
        (tmp_path / "connector.log").read_text()[-3000:]
    js = JetStreamClient(nats_server.url)
    try:
        js.publish(subjects.RAW, envelope.encode("auth-batch-1", [{"event_type": "state_changed"}]), "auth-batch-1")
        assert wait_for(lambda: gateway.invocations, 60)
    finally:
        js.close()
    assert json.loads(gateway.invocations[0])["batch_id"] == "auth-batch-1"
    # signed with the mounted connector-key, for the path the function sees behind /function/sink
    signedcalls.verify(CONNECTOR_KEY, gateway.signatures[0], "POST", "/", "", gateway.invocations[0])
    assert CONNECTOR_KEY not in (tmp_path / "connector.log").read_text()
    assert wait_for(lambda: sample(admin + "/metrics", "ha_ingestor_connector_messages_total",
                                   function="sink", topic=subjects.RAW, outcome="acked") == 1, 30)
    health = get(admin + "/health")
    assert health is not None and health.json()["subscriptions"] == ["sink:ha.events.raw"]
    assert health.json()["cron"] is True and health.json()["connector_key"] is True
    paths = {path for _, path, _ in gateway.requests}
    assert {"/system/functions", "/function/sink"} <= paths
    assert all(ok for _, _, ok in gateway.requests), "every request to the gateway carried the credentials"


def test_connector_with_a_wrong_password_is_not_ready_and_says_why(
        tmp_path: Path, nats_server: NatsServer, gateway: Gateway, stop_later: list[subprocess.Popen[bytes]],
        admin_port: int) -> None:
    proc, admin = start_connector(tmp_path, nats_server.url, gateway.url, "wrong-password", admin_port)
    stop_later.append(proc)
    refused = wait_for(lambda: (r := get(admin + "/ready")) is not None and r.status == 503
                       and "401" in (r.json()["gateway_error"] or ""), 60)
    assert refused, (tmp_path / "connector.log").read_text()[-3000:]
    health = get(admin + "/health")
    assert health is not None and health.status == 200 and health.json()["subscriptions"] == []
    assert gateway.invocations == []
    assert "wrong-password" not in (tmp_path / "connector.log").read_text()


def test_gateway_auth_is_off_without_a_password_so_the_local_runtime_is_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("BASIC_AUTH_PASSWORD", raising=False)
    monkeypatch.delenv("BASIC_AUTH_USER", raising=False)
    assert gateway_auth() == {}
    (tmp_path / "basic-auth-password").write_text("only-a-password")
    auth = gateway_auth()
    assert auth == {"Authorization": "Basic " + base64.b64encode(b"admin:only-a-password").decode()}
