"""Real database servers for tests, from Debian's packages, in temp dirs on free ports.

PostgreSQL refuses to run as root, so its cluster is made and run as the `postgres` user the
package creates. InfluxDB 1.x runs as a plain process with every directory in the temp dir.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

from localfaas import ports, procs


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries missing: apt-get install postgresql (make test-servers)")
    return found[-1]


class PostgresServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ha-ingestor-pg-"))  # outside pytest's root-only tmp
        self._reserved = ports.reserve()  # held while this server may (re)bind it
        self.port = self._reserved.port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """A fresh, empty database on this server, and its URL: one per test keeps tests apart."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    @staticmethod
    def _user() -> dict[str, str]:
        """Run as `postgres` when we are root (the server refuses root); the child is the server itself."""
        return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}

    def start(self) -> PostgresServer:
        data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        if not data.exists():
            subprocess.run([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                            "-E", "UTF8"], check=True, capture_output=True, cwd=self.dir, **self._user())
        self.proc = subprocess.Popen(
            [_pg_bin("postgres"), "-D", str(data), "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={self.dir}", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "postgres.log", "ab"),  # noqa: SIM115
            cwd=self.dir, **self._user())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run([_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start: {(self.dir / 'postgres.log').read_text()[-2000:]}")

    def stop(self) -> None:
        procs.stop(self.proc, signal.SIGINT, grace=20)  # SIGINT: PostgreSQL's fast shutdown

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class InfluxDB1Server:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ha-ingestor-influx-"))
        self._reserved = [ports.reserve(), ports.reserve()]  # HTTP, and the RPC bind-address; held while it runs
        self.port = self._reserved[0].port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, database: str = "ha_events") -> str:
        return f"influxdb://127.0.0.1:{self.port}/{database}"

    def start(self) -> InfluxDB1Server:
        binary = shutil.which("influxd")
        if not binary:
            raise RuntimeError("influxd missing: apt-get install influxdb (make test-servers)")
        conf = self.dir / "influxdb.conf"
        conf.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{self._reserved[1].port}"\n'
            f'[meta]\n  dir = "{self.dir}/meta"\n'
            f'[data]\n  dir = "{self.dir}/data"\n  wal-dir = "{self.dir}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n"
        )
        self.proc = subprocess.Popen([binary, "-config", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "influxd.log", "ab"))  # noqa: SIM115
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/ping", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"influxd did not start: {(self.dir / 'influxd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        procs.stop(self.proc, grace=5)  # influxd can take long to close; its test data is disposable

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh event store of `backend` on the session's servers: sqlite | postgresql | influxdb1 |
    influxdb1-ha (InfluxDB 1.x writing Home Assistant's layout too, with HA's default options)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    if backend == "postgresql":
        return request.getfixturevalue("postgres").new_database()
    url = request.getfixturevalue("influxdb").url(f"t_{uuid.uuid4().hex[:12]}")
    return f"{url}?layout=homeassistant" if backend == "influxdb1-ha" else url
