"""OpenFaaS's real gateway in front of the local provider (`python -m localfaas.openfaas`), and deploying
stack.yml to it.

faas-cli cannot be built here (the Go module proxy this machine reaches refuses github.com/openfaas/faas-cli,
docs/deploy.md), so `deploy` sends what `faas-cli deploy -f stack.yml` sends: stack.yml read with its ${VAR}s
expanded, one FunctionDeployment per function (github.com/openfaas/faas-provider/types), PUT first and POST
when the gateway answers 404, with the basic auth `faas-cli login` stores.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import selectors
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ha_connector.cronsigner import CronSigner
from ha_connector.service import basic_auth
from localfaas import netns, ofgateway, ports, tools
from localfaas import stack as stackfile
from tests.support.http import Reply, call
from tests.support.runtime import pythonpath

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"connector-key": None, "webhooks-api-key": "webhooks-admin-key", "alerts-api-key": "alerts-admin-key",
           "s3-access-key": "minio", "s3-secret-key": "minio-secret"}
# what `make secrets` creates (infra/secrets.sh); None: the stack's own connector-key


def unavailable() -> str | None:
    """Why the real gateway cannot run here, if it cannot."""
    if tools.binary(ofgateway.BINARY) is None:
        return "the OpenFaaS gateway is not built: `make tools` (needs Go)"
    if shutil.which("prometheus") is None:
        return "prometheus is not installed: `make test-servers`"
    return netns.supported()


def need_gateway() -> None:
    reason = unavailable()
    if reason:
        pytest.skip(reason)


class OpenFaaSStack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}
        self.log = workdir / "openfaas.log"

    @property
    def gateway(self) -> str:
        return self.ready["gateway"]

    @property
    def secrets(self) -> Path:
        return Path(self.ready["secrets_dir"])

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header `faas-cli login` makes of the gateway's user and password."""
        pair = f"{self.secret('basic-auth-user')}:{self.secret('basic-auth-password')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def start(self, timeout: float = 60) -> OpenFaaSStack:
        env = {**os.environ, "PYTHONPATH": pythonpath()}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "localfaas.openfaas", "--port", "0", "--data-dir", str(self.workdir / "data"),
                 "--secrets-dir", str(self.workdir / "secrets")], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log)
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        line = self.proc.stdout.readline() if selector.select(timeout) else b""
        if not line:
            self.stop()
            raise RuntimeError(f"not ready in {timeout} s; log: {self.log.read_text()[-3000:]}")
        self.ready = json.loads(line)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def process(self, name: str) -> tuple[int, dict[str, str]]:
        """The pid and environment of the process the provider runs for function `name` in this stack."""
        for proc in Path("/proc").iterdir():
            try:
                raw = (proc / "environ").read_bytes() if proc.name.isdigit() else b""
            except OSError:
                continue
            env = dict(e.decode(errors="replace").partition("=")[::2] for e in raw.split(b"\0") if b"=" in e)
            if env.get("FUNCTION_NAME") == name and env.get("SECRETS_DIR", "").startswith(str(self.workdir)):
                return int(proc.name), env
        raise LookupError(f"no process of {name}")

    def system(self, method: str, path: str, doc: Any = None, auth: bool = True, timeout: float = 60) -> Reply:
        body = None if doc is None else json.dumps(doc).encode()
        return call(method, f"{self.gateway}{path}", body, self.auth if auth else {}, timeout)

    def create_secret(self, name: str, value: str) -> Reply:
        """`faas-cli secret create <name> --from-literal <value>`."""
        return self.system("POST", "/system/secrets", {"name": name, "value": value})

    def deploy(self, functions: list[str] | None = None, stack: Path = REPO / "stack.yml",
               env: dict[str, str] | None = None) -> dict[str, Reply]:
        """`faas-cli deploy -f <stack> [--filter]`: every function's answer, by name."""
        loaded = stackfile.load(stack, {**os.environ, **self.ready_env(), **(env or {})})
        replies = {}
        for name, spec in loaded.functions.items():
            if functions is None or name in functions:
                request = deployment(spec)
                reply = self.system("PUT", "/system/functions", request, timeout=120)
                if reply.status == 404:
                    reply = self.system("POST", "/system/functions", request, timeout=120)
                replies[name] = reply
        return replies

    def ready_env(self) -> dict[str, str]:
        """What a user exports before `make deploy` against this gateway (its printed URLs)."""
        return {"NATS_URL": self.ready["nats"], "DATA_DIR": self.ready["data_dir"], "GATEWAY_URL": self.gateway}

    def invoke(self, target: str, body: bytes = b"", method: str = "POST", headers: dict[str, str] | None = None,
               timeout: float = 60) -> Reply:
        """`faas-cli invoke` / curl $OPENFAAS_URL/function/<target>: no credentials."""
        return call(method, f"{self.gateway}/function/{target}", body if method != "GET" else None, headers, timeout)


def deployment(spec: stackfile.FunctionSpec) -> dict[str, Any]:
    """The FunctionDeployment faas-cli sends for one function of stack.yml."""
    request: dict[str, Any] = {"service": spec.name, "image": spec.image, "envVars": spec.environment,
                               "secrets": spec.secrets, "labels": spec.labels, "annotations": spec.annotations}
    if spec.limits:
        request["limits"] = spec.limits
    if spec.requests:
        request["requests"] = spec.requests
    return request


class SignerThread:
    """ha_connector.cronsigner's app on a free port, on an event loop of its own, with the clock its gate reads
    set by the test (the signatures themselves carry the real time, which the functions check)."""

    def __init__(self, gateway: str, key: str, user: str, password: str) -> None:
        self.now = dt.datetime.now(dt.UTC)
        self.signer = CronSigner(gateway, key, basic_auth(user, password), clock=lambda: self.now)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self._runner = web.AppRunner(self.signer.app, access_log=None)
        self._socket = ports.listener()
        self._run(self._start())

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    async def _start(self) -> None:
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def close(self) -> None:
        self._run(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._socket.close()
