"""The local runtime as an OpenFaaS provider: the faas-provider HTTP API over processes.

OpenFaaS's gateway manages functions through a provider (faas-netes on Kubernetes, faasd on containerd).
This one answers the same routes (github.com/openfaas/faas-provider: deploy, update, delete, list, describe,
scale, invoke, secrets, logs, info, namespaces) and runs each function as the template's process under
its own localfaas.supervisor, which restarts it when it dies. An image `<registry>/<name>:<tag>` is the
build context of functions/<name> (what `faas-cli build` would put in the image), so the stack.yml that
faas-cli deploys to faasd or k3s deploys here unchanged. One namespace, `openfaas-fn`; one replica per
function (0 stops it). A function labelled `com.openfaas.scale.zero: "true"` is scaled to 0 replicas once
idle (localfaas.scaletozero) and listed so, which the real gateway's scale-from-zero acts on; a call through
this provider's own /function route starts it as well. Secrets are files, each function sees only those it
lists, as in a container.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import hmac
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ingestor import jsoncodec
from localfaas.gateway import Gateway, error
from localfaas.scaletozero import ScaleToZero, idle_after
from localfaas.stack import FunctionSpec, Stack, StackError
from localfaas.supervisor import READY_TIMEOUT_S, Supervisor

log = logging.getLogger("provider")
NAMESPACE = "openfaas-fn"
LOG_LINES = 1000  # kept per function for /system/logs
_IMAGE = re.compile(r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)*(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*)(?::[\w][\w.-]{0,127})?$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_SECRET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$")


class Refused(Exception):
    """A request the provider will not carry out; the message says why (safe to show)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Deployment:
    spec: FunctionSpec
    request: dict[str, Any]  # the FunctionDeployment as received: describe returns it
    created_at: dt.datetime
    replicas: int = 1
    supervisor: Supervisor | None = None
    logs: collections.deque[tuple[int, dt.datetime, str]] = field(
        default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    written: int = 0  # lines ever written: numbers the entries of `logs`, so a follower sends each once

    def log_line(self, _: str, line: bytes) -> None:
        self.written += 1
        self.logs.append((self.written, dt.datetime.now(dt.UTC), line.decode("utf-8", "replace").rstrip()))


class Provider:
    def __init__(self, root: Path, state_dir: Path, env: dict[str, str],
                 credentials: tuple[str, str] | None = None) -> None:
        self.root = root  # the repository: functions/<name> and functions/common
        self.state_dir = state_dir
        self.env = env
        self.credentials = credentials
        self.secrets_dir = state_dir / "secrets"
        self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.deployments: dict[str, Deployment] = {}
        self._lock = asyncio.Lock()
        # invocations: the local gateway's forwarding, over this provider's processes (no async route here)
        self.scaler = ScaleToZero(self)
        self.gateway = Gateway(self, None, scaler=self.scaler)  # type: ignore[arg-type]
        self.app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._auth])
        self.app.add_routes([
            web.get("/healthz", self.healthz),
            web.get("/system/info", self.info),
            web.get("/system/namespaces", self.namespaces),
            web.get("/system/namespace/{ns}", self.namespace),
            web.get("/system/functions", self.list),
            web.post("/system/functions", self.deploy),
            web.put("/system/functions", self.update),
            web.delete("/system/functions", self.delete),
            web.get("/system/function/{name}", self.describe),
            web.post("/system/scale-function/{name}", self.scale),
            web.route("*", "/system/secrets", self.secrets),
            web.get("/system/logs", self.logs),
            web.route("*", "/function/{name}", self.invoke),
            web.route("*", "/function/{name}/{tail:.*}", self.invoke),
        ])
        self.app.on_startup.extend(self.gateway.app.on_startup)
        self.app.on_cleanup.extend(self.gateway.app.on_cleanup)
        self.app.on_startup.append(self._begin_scaling)
        self.app.on_cleanup.append(self._stop_all)

    @property
    def functions(self) -> dict[str, Any]:
        """The running processes, by function name (what the local gateway's forwarding reads)."""
        return {name: sup.functions[name] for name, d in self.deployments.items()
                if (sup := d.supervisor) is not None}

    def answered(self, name: str) -> None:
        """The local gateway's forwarding reports each call's outcome to the process's supervisor, which restarts
        a process that stopped answering (Supervisor.timed_out)."""
        if (d := self.deployments.get(name)) is not None and d.supervisor is not None:
            d.supervisor.answered(name)

    def timed_out(self, name: str) -> None:
        if (d := self.deployments.get(name)) is not None and d.supervisor is not None:
            d.supervisor.timed_out(name)

    # -- scaling to and from zero (localfaas.scaletozero) ----------------------------------------------------

    async def _begin_scaling(self, _: web.Application) -> None:
        self.scaler.begin(lambda: list(self.deployments))

    def spec_of(self, name: str) -> FunctionSpec | None:
        d = self.deployments.get(name)
        return d.spec if d else None

    def is_running(self, name: str) -> bool:
        d = self.deployments.get(name)
        return d is not None and d.supervisor is not None

    async def start_function(self, name: str, timeout: float) -> str | None:
        async with self._lock:
            d = self.deployments.get(name)
            if d is None:
                return f"no function named {name!r}"
            d.replicas = 1
            if d.supervisor is None:
                try:
                    await self._start(d, timeout)
                except Refused as exc:
                    return str(exc)
            assert d.supervisor is not None
            return d.supervisor.not_ready.get(name)

    async def stop_function(self, name: str) -> None:
        async with self._lock:
            if (d := self.deployments.get(name)) is not None:
                d.replicas = 0
                await self._stop(d)

    # -- edge ---------------------------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """/system/* needs the gateway's basic auth (the gateway injects it), as faasd's provider does."""
        if self.credentials is not None and request.path.startswith("/system/"):
            user, password = self.credentials
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected.encode()):
                return web.Response(status=401, text="Unauthorized",
                                    headers={"WWW-Authenticate": 'Basic realm="Restricted"'})
        try:
            return await handler(request)
        except Refused as exc:
            log.warning("refused", extra={"route": request.path, "method": request.method, "reason": str(exc)})
            return web.Response(status=exc.status, text=str(exc))

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = jsoncodec.loads(await request.read())
        except ValueError as exc:
            raise Refused(400, f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise Refused(400, "the body must be a JSON object")
        return body

    @staticmethod
    def _namespace(value: str | None) -> None:
        if value not in (None, "", NAMESPACE):
            raise Refused(400, f"namespace {value!r} is not {NAMESPACE}, the only one here")

    # -- system ---------------------------------------------------------------------------------------------

    async def healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def info(self, _: web.Request) -> web.Response:
        return web.json_response({"provider": "ha-ingestor-localfaas", "orchestration": "processes",
                                  "version": {"release": "1", "sha": "local"}})

    async def namespaces(self, _: web.Request) -> web.Response:
        return web.json_response([NAMESPACE])

    async def namespace(self, request: web.Request) -> web.Response:
        self._namespace(request.match_info["ns"])
        return web.json_response({"name": NAMESPACE})

    def _status(self, d: Deployment) -> dict[str, Any]:
        fn = d.supervisor.functions[d.spec.name] if d.supervisor else None
        req = d.request
        return {k: v for k, v in {
            "name": d.spec.name, "image": d.spec.image, "namespace": NAMESPACE,
            "envProcess": req.get("envProcess"), "envVars": d.spec.environment, "secrets": d.spec.secrets,
            "labels": d.spec.labels, "annotations": d.spec.annotations, "constraints": req.get("constraints"),
            "limits": req.get("limits"), "requests": req.get("requests"),
            "invocationCount": self.gateway.invocations.get(d.spec.name, 0),
            "replicas": d.replicas, "availableReplicas": 1 if fn is not None and fn.ready else 0,
            "createdAt": d.created_at.isoformat().replace("+00:00", "Z"),
        }.items() if v not in (None, {}, [])}

    async def list(self, request: web.Request) -> web.Response:
        self._namespace(request.query.get("namespace"))
        return web.json_response([self._status(d) for _, d in sorted(self.deployments.items())], dumps=_dumps)

    async def describe(self, request: web.Request) -> web.Response:
        self._namespace(request.query.get("namespace"))
        d = self.deployments.get(request.match_info["name"])
        if d is None:
            raise Refused(404, f"no function named {request.match_info['name']!r}")
        return web.json_response(self._status(d), dumps=_dumps)

    # -- deploy, update, delete, scale --------------------------------------------------------------------

    def _spec(self, req: dict[str, Any]) -> FunctionSpec:
        """The function a FunctionDeployment describes; every mistake refused by name before anything runs."""
        name, image = req.get("service"), req.get("image")
        if not isinstance(name, str) or not _NAME.match(name):
            raise Refused(400, f"service {name!r} must be lowercase letters, digits and '-'")
        self._namespace(req.get("namespace"))
        match = _IMAGE.match(image) if isinstance(image, str) else None
        if match is None:
            raise Refused(400, f"{name}: image {image!r} is not an image reference")
        context = self.root / "functions" / match["name"]
        if not (context / "handler.py").is_file():
            raise Refused(400, f"{name}: image {image!r}: no build context functions/{match['name']} with a handler.py")
        secrets = req.get("secrets") or []
        if not isinstance(secrets, list) or not all(isinstance(s, str) and _SECRET.match(s) for s in secrets):
            raise Refused(400, f"{name}: secrets must be a list of secret names")
        missing = [s for s in secrets if not (self.secrets_dir / s).is_file()]
        if missing:
            raise Refused(400, f"{name}: secret(s) not found: {', '.join(missing)} (create them first)")
        spec = FunctionSpec(name=name, handler=context, image=image, environment=_strings(req, "envVars"),
                            annotations=_strings(req, "annotations"), labels=_strings(req, "labels"),
                            secrets=list(secrets), limits=_strings(req, "limits"), requests=_strings(req, "requests"))
        try:
            idle_after(spec)
        except StackError as exc:
            raise Refused(400, str(exc)) from None
        return spec

    def _function_secrets(self, spec: FunctionSpec) -> Path:
        folder = self.state_dir / "functions" / spec.name / "secrets"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        for secret in spec.secrets:
            shutil.copyfile(self.secrets_dir / secret, folder / secret)
            (folder / secret).chmod(0o600)
        return folder

    async def _start(self, d: Deployment, timeout: float = READY_TIMEOUT_S) -> None:
        stack = Stack(self.state_dir / "stack.yml", "", [self.root / "functions" / "common"], {d.spec.name: d.spec})
        d.supervisor = Supervisor(stack, self.env, self._function_secrets(d.spec), log_sink=d.log_line)
        self.scaler.touch(d.spec.name)
        try:  # waits for the first start, as a rollout does; a function that fails it keeps being restarted
            await d.supervisor.start(timeout)
        except OSError as exc:  # no process could be started at all: nothing of it is left running
            await self._stop(d)
            raise Refused(500, f"{d.spec.name}: cannot start its process: {exc}") from None
        if d.supervisor.not_ready:
            log.error("deployed function not ready", extra={"function": d.spec.name,
                                                           "reason": d.supervisor.not_ready[d.spec.name]})

    async def _stop(self, d: Deployment) -> None:
        if d.supervisor is not None:
            supervisor, d.supervisor = d.supervisor, None
            await supervisor.stop()

    async def deploy(self, request: web.Request) -> web.Response:
        req = await self._json(request)
        spec = self._spec(req)
        async with self._lock:
            if spec.name in self.deployments:
                raise Refused(409, f"function {spec.name} already exists: update it (PUT)")
            d = Deployment(spec, req, dt.datetime.now(dt.UTC))
            await self._start(d)
            self.deployments[spec.name] = d
        log.info("deployed", extra={"function": spec.name, "image": spec.image})
        return web.Response(status=202)

    async def update(self, request: web.Request) -> web.Response:
        req = await self._json(request)
        spec = self._spec(req)
        async with self._lock:
            old = self.deployments.get(spec.name)
            if old is None:
                raise Refused(404, f"no function named {spec.name!r} to update")
            await self._stop(old)
            d = Deployment(spec, req, old.created_at, logs=old.logs, written=old.written)
            self.deployments[spec.name] = d
            await self._start(d)
        log.info("updated", extra={"function": spec.name, "image": spec.image})
        return web.Response(status=202)

    async def delete(self, request: web.Request) -> web.Response:
        req = await self._json(request)
        name = req.get("functionName")
        self._namespace(req.get("namespace"))
        async with self._lock:
            d = self.deployments.pop(name, None) if isinstance(name, str) else None
            if d is None:
                raise Refused(404, f"no function named {name!r}")
            await self._stop(d)
        shutil.rmtree(self.state_dir / "functions" / d.spec.name, ignore_errors=True)
        log.info("removed", extra={"function": d.spec.name})
        return web.Response(status=202)

    async def scale(self, request: web.Request) -> web.Response:
        req = await self._json(request)
        name = request.match_info["name"]
        replicas = req.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise Refused(400, "replicas must be a whole number >= 0")
        async with self._lock:
            d = self.deployments.get(name)
            if d is None:
                raise Refused(404, f"no function named {name!r}")
            if replicas > 1:
                log.warning("one process per function here; scaled to 1", extra={"function": name, "asked": replicas})
            d.replicas = min(replicas, 1)
            log.info("scaled", extra={"function": name, "replicas": d.replicas})
            if d.replicas == 0:
                await self._stop(d)
            elif d.supervisor is None:
                await self._start(d)
        return web.Response(status=202)

    async def _stop_all(self, _: web.Application) -> None:
        await self.scaler.close()
        await asyncio.gather(*(self._stop(d) for d in self.deployments.values()))

    # -- secrets, logs ------------------------------------------------------------------------------------

    async def secrets(self, request: web.Request) -> web.Response:
        self._namespace(request.query.get("namespace"))
        if request.method == "GET":
            names = sorted(p.name for p in self.secrets_dir.iterdir() if p.is_file())
            return web.json_response([{"name": n, "namespace": NAMESPACE} for n in names])
        if request.method not in ("POST", "PUT", "DELETE"):
            raise Refused(405, "secrets: GET, POST, PUT or DELETE")
        req = await self._json(request)
        name = req.get("name")
        if not isinstance(name, str) or not _SECRET.match(name):
            raise Refused(400, f"secret name {name!r} is not valid")
        self._namespace(req.get("namespace"))
        path = self.secrets_dir / name
        if request.method == "DELETE":
            if not path.is_file():
                raise Refused(404, f"no secret named {name!r}")
            users = sorted(n for n, d in self.deployments.items() if name in d.spec.secrets)
            if users:
                raise Refused(409, f"secret {name!r} is used by {', '.join(users)}")
            path.unlink()
            return web.Response(status=202)
        if request.method == "POST" and path.exists():
            raise Refused(409, f"secret {name!r} already exists: update it (PUT)")
        if request.method == "PUT" and not path.exists():
            raise Refused(404, f"no secret named {name!r} to update")
        raw = req.get("rawValue")
        value = base64.b64decode(raw) if isinstance(raw, str) and raw else str(req.get("value") or "").encode()
        path.touch(mode=0o600)
        path.write_bytes(value)
        for d in self.deployments.values():  # mounted secrets follow their updates, as on Kubernetes
            mounted = self.state_dir / "functions" / d.spec.name / "secrets"
            if name in d.spec.secrets and mounted.is_dir():
                shutil.copyfile(path, mounted / name)
        log.info("secret stored", extra={"secret": name, "bytes": len(value)})  # never the value
        return web.Response(status=202 if request.method == "PUT" else 201)

    async def logs(self, request: web.Request) -> web.StreamResponse:
        name = request.query.get("name", "")
        self._namespace(request.query.get("namespace"))
        d = self.deployments.get(name)
        if d is None:
            raise Refused(404, f"no function named {name!r}")
        try:
            tail = int(request.query.get("tail") or -1)
            since = dt.datetime.fromisoformat(request.query["since"].replace("Z", "+00:00")) \
                if request.query.get("since") else None
        except ValueError as exc:
            raise Refused(400, f"tail or since: {exc}") from None
        follow = request.query.get("follow", "").lower() == "true"
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        lines = [entry for entry in d.logs if since is None or entry[1] >= since]
        sent = d.written
        for _, when, text in lines[len(lines) - tail:] if 0 <= tail < len(lines) else lines:
            await response.write(_message(name, when, text))
        while follow and self.deployments.get(name) is d:  # until the client goes or the function is removed
            await asyncio.sleep(0.2)
            for seq, when, text in list(d.logs):
                if seq > sent:
                    await response.write(_message(name, when, text))
            sent = d.written
        await response.write_eof()
        return response

    # -- invoke -------------------------------------------------------------------------------------------

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        name, _, namespace = request.match_info["name"].partition(".")
        if namespace and namespace != NAMESPACE:
            return error(404, "not_found", f"no namespace {namespace!r} here")
        return await self.gateway.forward(request, name)


def _strings(req: dict[str, Any], key: str) -> dict[str, str]:
    value = req.get(key) or {}
    if not isinstance(value, dict):
        raise Refused(400, f"{req.get('service')}: {key} must be an object")
    return {str(k): str(v) for k, v in value.items()}


def _message(name: str, when: dt.datetime, text: str) -> bytes:
    return jsoncodec.dumps({"name": name, "namespace": NAMESPACE, "instance": name,
                            "timestamp": when.isoformat().replace("+00:00", "Z"), "text": text}) + b"\n"


def _dumps(value: Any) -> str:
    return jsoncodec.dumps(value).decode()
