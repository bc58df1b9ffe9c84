"""A real MinIO server for tests: the binary `make tools` builds from github.com/minio/minio (AGPLv3; run as an
external server only, never linked or shipped), on reserved ports in a temp dir. The same surface as
tests.support.seaweedfs.SeaweedFS: endpoint, port, access_key, secret_key, start, stop, cleanup."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from localfaas import ports, procs, tools

BINARY = "minio"
ACCESS_KEY = "test-minio-access"
SECRET_KEY = "test-minio-secret-0123456789"


def unavailable() -> str | None:
    return None if tools.binary(BINARY) else "MinIO is not built: `make tools` (needs Go)"


class MinIO:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ha-ingestor-minio-"))
        self._reserved: list[ports.Reservation] = []  # held while MinIO may (re)bind them
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> MinIO:
        binary = tools.binary(BINARY)
        if binary is None:
            raise RuntimeError(unavailable())
        if not self._reserved:  # a restart keeps the endpoint
            self._reserved = [ports.reserve(), ports.reserve()]
        self.port, console = (r.port for r in self._reserved)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.dir), "MINIO_ROOT_USER": self.access_key,
               "MINIO_ROOT_PASSWORD": self.secret_key, "MINIO_BROWSER": "off", "MINIO_UPDATE": "off",
               "MINIO_CALLHOME_ENABLE": "off"}
        with open(self.dir / "minio.log", "ab") as log:
            self.proc = subprocess.Popen(
                [str(binary), "server", str(self.dir / "data"), "--address", f"127.0.0.1:{self.port}",
                 "--console-address", f"127.0.0.1:{console}", "--quiet"],
                env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=procs.child_preexec)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/minio/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"minio did not start: {(self.dir / 'minio.log').read_text()[-3000:]}")

    def stop(self) -> None:
        procs.stop(self.proc, grace=5)

    def cleanup(self) -> None:
        self.stop()
        for reservation in self._reserved:
            reservation.release()
        shutil.rmtree(self.dir, ignore_errors=True)
