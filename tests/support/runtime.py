"""The local runtime started as users start it (`python -m localfaas`), on free ports, in a temp dir."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ingestor.apikeys import ApiKey
from localfaas.call import signature
from tests.support.http import Reply, call

REPO = Path(__file__).resolve().parents[2]
TEST_STACK = REPO / "tests" / "stack.test.yml"


def stack_of(path: Path, stages: tuple[str, ...], source: Path = REPO / "stack.yml") -> Path:
    """`source` (stack.yml: the real configuration) reduced to `stages`, written to `path` (handler paths made
    absolute, since the file lives elsewhere): a runtime of just those functions."""
    stack = yaml.safe_load(source.read_text())
    stack["functions"] = {name: {**spec, "handler": str((source.parent / spec["handler"]).resolve())}
                          for name, spec in stack["functions"].items() if name in stages}
    stack["configuration"]["copy"] = [str(REPO / "functions" / "common")]
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    return path


SOURCES = ("functions/common", "infra/connector", "infra/local", "gateway-bridge")


def pythonpath() -> str:
    """The source folders a process of the project imports from (pyproject's pythonpath, absolute)."""
    return os.pathsep.join(str(REPO / p) for p in SOURCES)


def process_with(command: bytes, *environment: bytes) -> int | None:
    """The pid of a process whose command line contains `command` and whose environment has every
    `NAME=value` given (the runtime restarts its children, so their pids are looked up, not kept)."""
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if command in cmdline and all(e in environ for e in environment):
            return int(proc.name)
    return None


class LocalRuntime:
    def __init__(self, workdir: Path, stack: Path = TEST_STACK, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.stack = stack
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}
        self.log = workdir / "runtime.log"

    @property
    def gateway(self) -> str:
        return self.ready["gateway"]

    @property
    def nats_url(self) -> str:
        return self.ready["nats"]

    def secret(self, name: str) -> str:
        """A secret of the runtime's folder: the connector-key and the API keys it generates on first run."""
        return (self.workdir / "secrets" / name).read_text().strip()

    @property
    def connector_key(self) -> str:
        """The key the runtime generated for its connectors (functions that change data require their signature)."""
        return self.secret("connector-key")

    def keyed(self, key: ApiKey, headers: dict[str, str] | None = None) -> dict[str, str]:
        """`headers` (default: a JSON call's) with the API key a data-changing route needs."""
        return {**(headers or {"Content-Type": "application/json"}), "X-API-Key": self.secret(key.secret)}

    def signed_call(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None,
                    timeout: float = 30) -> Reply:
        """`target` ("<function>[/path][?query]") called through the gateway, signed as the connectors sign."""
        signed = {**(headers or {}), **signature(self.connector_key, method, target, body)}
        return call(method, f"{self.gateway}/function/{target}", body, signed, timeout)

    def start(self, timeout: float = 60) -> LocalRuntime:
        inherited = {k: v for k, v in os.environ.items() if k != "HA_URL"}  # a bridge only when a test asks
        env = {**inherited, **self.env, "PYTHONPATH": pythonpath()}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "localfaas", "-f", str(self.stack), "--port", "0", "--nats-port", "0",
                 "--data-dir", str(self.workdir / "data"), "--secrets-dir", str(self.workdir / "secrets")],
                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log,
            )
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            self.stop()
            raise RuntimeError(f"runtime not ready in {timeout}s; log: {self.log.read_text()[-3000:]}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"runtime exited: {self.log.read_text()[-3000:]}")
        self.ready = json.loads(line)
        return self

    def function_pid(self, name: str) -> int:
        """The current pid of a function process (it changes when the supervisor restarts it)."""
        port = self.ready["functions"][name].rsplit(":", 1)[1].encode()
        pid = process_with(b"index.py", b"PORT=" + port, b"FUNCTION_NAME=" + name.encode())
        if pid is None:
            raise LookupError(f"no process for {name}")
        return pid

    def bridge_pid(self, replica: str) -> int | None:
        """The current pid of a gateway-bridge replica the runtime runs ("bridge-1", …), None while it is down."""
        return process_with(b"ha_bridge", f"BRIDGE_REPLICA={replica}".encode(),
                            f"SECRETS_DIR={self.workdir / 'secrets'}".encode())

    def nats_server_pid(self) -> int:
        for proc in Path("/proc").iterdir():
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if args[0].endswith(b"nats-server") and args[-2].startswith(str(self.workdir).encode()):
                return int(proc.name)
        raise LookupError("no nats-server of this runtime")

    @contextmanager
    def nats_held_down(self) -> Iterator[None]:
        """SIGKILL the runtime's nats-server and keep its port taken, so every restart the runtime tries fails
        until the block ends: NATS down for as long as the test says."""
        port = int(self.nats_url.rsplit(":", 1)[1])
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        os.kill(self.nats_server_pid(), signal.SIGKILL)
        deadline = time.monotonic() + 1
        while True:  # the port is ours as soon as the kernel has reaped the listener, before any restart
            try:
                squatter.bind(("127.0.0.1", port))
                squatter.listen()
                break
            except OSError:
                if time.monotonic() > deadline:
                    squatter.close()
                    raise
                time.sleep(0.005)
        try:
            yield
        finally:
            squatter.close()

    def kill_function(self, name: str) -> None:
        os.kill(self.function_pid(name), signal.SIGKILL)

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
