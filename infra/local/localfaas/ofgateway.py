"""OpenFaaS's own gateway (`make tools` builds it from its Go module) in front of the local provider.

Configured as faasd configures it: basic auth from the secrets folder (`basic-auth-user`,
`basic-auth-password`), `functions_provider_url` pointing at the provider, no NATS (asynchronous calls are
the project's own, see localfaas.asyncqueue), and a Prometheus (Debian's) scraping the gateway, from which
the gateway reads the invocation counts of its function list (without one, that list panics in the
gateway's metrics code). Its ports are fixed (8080, and 8082 for its metrics), so it runs with its
Prometheus in a network namespace of their own (localfaas.netns), reached on host ports of our choosing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from localfaas import netns, procs, tools
from localfaas.procs import child_preexec

BINARY = "openfaas-gateway"
GATEWAY_PORT, METRICS_PORT, PROVIDER_PORT, PROMETHEUS_PORT = 8080, 8082, 8081, 9090  # inside the namespace
PROMETHEUS_CONFIG = f"""global:
  scrape_interval: 2s
scrape_configs:
  - job_name: gateway
    static_configs:
      - targets: ["127.0.0.1:{METRICS_PORT}"]
"""


def _preexec() -> None:
    child_preexec()
    netns.isolate()


class OpenFaaSGateway:
    def __init__(self, provider_port: int, secrets_dir: Path, state_dir: Path, port: int = 0,
                 upstream_timeout: str = "65s") -> None:
        self.provider_port = provider_port
        self.secrets_dir = secrets_dir
        self.state_dir = state_dir
        self.log_path = state_dir / "gateway.log"
        self.port = port
        self.upstream_timeout = upstream_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.prometheus: subprocess.Popen[bytes] | None = None
        self.namespace: netns.Namespace | None = None
        self.metrics_port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> OpenFaaSGateway:
        path = tools.binary(BINARY)
        if path is None:
            raise RuntimeError(f"{BINARY} not built: run `make tools` (needs Go)")
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            raise RuntimeError("prometheus not found: install Debian's prometheus (make test-servers)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "functions_provider_url": f"http://127.0.0.1:{PROVIDER_PORT}/",
            "basic_auth": "true", "secret_mount_path": str(self.secrets_dir),
            "read_timeout": self.upstream_timeout, "write_timeout": self.upstream_timeout,
            "upstream_timeout": self.upstream_timeout,
            "faas_prometheus_host": "127.0.0.1", "faas_prometheus_port": str(PROMETHEUS_PORT),
            "function_namespace": "openfaas-fn",  # as faasd sets it: metrics name functions <name>.openfaas-fn
            "scale_from_zero": "true",  # as faasd sets it: a call to a function at 0 replicas scales it to 1
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(path)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_preexec, start_new_session=True)
        (self.state_dir / "prometheus.yml").write_text(PROMETHEUS_CONFIG)
        with open(self.state_dir / "prometheus.log", "ab") as log:
            self.prometheus = subprocess.Popen(
                [prometheus, f"--config.file={self.state_dir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.state_dir / 'prometheus'}",
                 f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=self._join, start_new_session=True)
        self.namespace = netns.Namespace(self.proc.pid)
        self.namespace.reach(self.provider_port, PROVIDER_PORT)
        self.port = self.namespace.expose(GATEWAY_PORT, self.port)
        self.metrics_port = self.namespace.expose(METRICS_PORT)
        self._wait(timeout)
        return self

    def _join(self) -> None:
        child_preexec()
        assert self.proc is not None
        netns.join(self.proc.pid)()

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"the OpenFaaS gateway exited with {self.proc.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the OpenFaaS gateway did not answer /healthz within {timeout:g} s")

    def stop(self) -> None:
        procs.stop(self.proc)
        procs.stop(self.prometheus)
        if self.namespace is not None:
            self.namespace.close()
            self.namespace = None
