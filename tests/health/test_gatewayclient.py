"""The gateway as the health function reads it: basic auth on /system/* only, never sent to functions."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ingestor.health.gatewayclient import Gateway, HttpClient, TimedOut, Unreachable, basic_auth

USER, PASSWORD = "admin", "gw-Pass-3301"
seen: list[tuple[str, str | None]] = []


class FakeGatewayHandler(BaseHTTPRequestHandler):
    """OpenFaaS's rules: /system/* needs basic auth; /function/* does not."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        auth = self.headers.get("Authorization")
        seen.append((self.path, auth))
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.path.startswith("/system/") and auth != expected:
            self._send(401, b"unauthorized")
        elif self.path == "/system/functions":
            self._send(200, json.dumps([{"name": "write", "availableReplicas": 1}, {"bogus": 1}]).encode())
        elif self.path == "/function/slow/_/health":
            threading.Event().wait(1.5)
            self._send(200, b"{}")
        else:
            self._send(200, b'{"status": "ok"}')

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (the timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGatewayHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str] | None:
    (tmp_path / "basic-auth-user").write_text(USER)
    (tmp_path / "basic-auth-password").write_text(PASSWORD)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    return basic_auth()


def test_the_function_list_is_read_with_the_gateways_credentials_which_functions_never_see(
        gateway_url: str, credentials: tuple[str, str] | None) -> None:
    gateway = Gateway(gateway_url, HttpClient(2), credentials)
    assert [f["name"] for f in gateway.functions()] == ["write"]  # entries without a name are ignored
    assert gateway.json("write", "_/health") == {"status": "ok"}
    assert [auth is not None for _, auth in seen] == [True, False]


def test_without_credentials_the_401_names_the_secrets_wanted(gateway_url: str) -> None:
    with pytest.raises(Unreachable, match="basic-auth-user / basic-auth-password"):
        Gateway(gateway_url, HttpClient(2)).functions()


def test_a_slow_answer_is_a_timeout_and_a_closed_port_unreachable(gateway_url: str) -> None:
    with pytest.raises(TimedOut):
        Gateway(gateway_url, HttpClient(0.5)).call("slow", "_/health")
    with pytest.raises(Unreachable, match="unreachable"):
        Gateway("http://127.0.0.1:9", HttpClient(0.5)).functions()
