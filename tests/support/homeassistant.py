"""A real Home Assistant (PyPI `homeassistant` 2024.3.3) for tests: its own virtualenv, offline config, a token.

HA's pins (aiohttp, SQLAlchemy, orjson…) conflict with the project's, so it lives in `.venv-ha`,
built once from `tests/homeassistant/requirements-ha-2024.3.3.txt` (as pip constraints: without
them pip backtracks for many minutes) and reused while its stamp matches the recipe (that file and
PACKAGES). A changed recipe updates a complete venv in place, so HA processes other test runs have
started from it keep running. The measured facts this follows are in docs/home-assistant.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket

from localfaas import ports
from localfaas.procs import child_preexec

REPO = Path(__file__).resolve().parents[2]
HA_DIR = REPO / "tests" / "homeassistant"
CONSTRAINTS = HA_DIR / "requirements-ha-2024.3.3.txt"
CONFIG_TEMPLATE = HA_DIR / "configuration.yaml"
VENV = Path(os.environ.get("HA_VENV", REPO / ".venv-ha"))
HA_VERSION = "2024.3.3"
# Built-in integrations HA always loads, whose packages the wheel does not pull in (README, measured).
PACKAGES = [
    f"homeassistant=={HA_VERSION}", "home-assistant-frontend==20240307.0", "Pillow==10.2.0", "janus==1.0.0",
    "securetar==2024.2.1", "psutil-home-assistant==0.0.1", "SQLAlchemy==2.0.27", "fnv-hash-fast==0.5.0",
    "josepy<2",  # josepy 2.x breaks an import on HA's HTTP path: every request answers 500
    # The `influxdb:` integration's client libraries (its manifest's pins): the layout-equality tests run it.
    "influxdb==5.3.1", "influxdb-client==1.24.0",
]
CLIENT_ID = "http://127.0.0.1/"  # IndieAuth client id: any URL on the same host is accepted


def _stamp_value(constraints: Path, packages: list[str]) -> str:
    digest = hashlib.sha256(constraints.read_bytes() + "\n".join(packages).encode()).hexdigest()
    return f"{digest}\n"


def ensure_venv(venv: Path = VENV, constraints: Path = CONSTRAINTS, packages: list[str] = PACKAGES,
                executable: str = "hass") -> tuple[Path, float]:
    """The `hass` executable of a complete HA virtualenv, built if missing; returns (hass, seconds spent).

    Idempotent and safe across concurrent test processes (a file lock). A stamp written last marks it
    complete for one recipe: no stamp (missing or interrupted build) builds it from scratch; a stamp of
    another recipe updates it in place with pip (never removed: other runs' HA may be using it), and
    an interrupted update is simply redone, as the old stamp stays until the update has finished.
    """
    stamp = venv / ".ha-installed"
    hass = venv / "bin" / executable
    recipe = _stamp_value(constraints, packages)
    started = time.monotonic()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = stamp.is_file() and hass.is_file()
        if built and stamp.read_text() == recipe:
            return hass, time.monotonic() - started
        if not built:
            shutil.rmtree(venv, ignore_errors=True)
        log_path = venv.parent / f"{venv.name}-install.log"
        with open(log_path, "wb") as log:
            try:
                if not built:
                    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=log, stderr=log)
                pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
                subprocess.run([*pip, "-c", str(constraints), *packages], check=True, stdout=log, stderr=log)
            except subprocess.CalledProcessError:
                raise RuntimeError(f"installing Home Assistant failed; see {log_path}") from None
        stamp.write_text(recipe)
    return hass, time.monotonic() - started


def _http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
          form: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, Any]:
    data = None
    headers = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


class HomeAssistant:
    """One `hass` process on 127.0.0.1:<free port> with a config dir of its own; restartable in place."""

    def __init__(self, config_dir: Path, port: int | None = None,
                 write_config: Callable[[Path, int], object] | None = None) -> None:
        self.config_dir = Path(config_dir)
        # a port of our choosing stays reserved while this HA may (re)bind it: HA keeps running when it cannot
        # bind, and another HA answering on the same port would pass for this one
        self._reserved = None if port else ports.reserve()
        self.port = port or self._reserved.port
        self.write_config = write_config  # (config_dir, port): another configuration (the demo home)
        self.proc: subprocess.Popen[bytes] | None = None
        self.token: str | None = None
        self._probe = int(time.time() * 1000) % 1_000_000  # next value for input_number.bridge_probe
        self._probe_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/websocket"

    @property
    def log_file(self) -> Path:
        return self.config_dir / "home-assistant.log"

    # -- process -----------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> HomeAssistant:
        hass, _ = ensure_venv()
        self.config_dir.mkdir(parents=True, exist_ok=True)
        if self.write_config is not None:
            self.write_config(self.config_dir, self.port)
        else:
            config = self.config_dir / "configuration.yaml"
            config.write_text(CONFIG_TEMPLATE.read_text().replace("__PORT__", str(self.port)))
        with open(self.config_dir / "hass.out", "ab") as out:
            self.proc = subprocess.Popen([str(hass), "-c", str(self.config_dir), "--skip-pip"],
                                         stdout=out, stderr=out, start_new_session=True,
                                         preexec_fn=child_preexec)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hass exited with {self.proc.returncode}: {self.output()[-3000:]}")
            try:
                status, _ = _http("GET", f"{self.url}/api/onboarding", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"hass did not answer HTTP within {timeout}s: {self.output()[-3000:]}")
            time.sleep(0.1)
        if self.token is None:
            self.token = self._onboard()
        while self.ws(("get_config", {}))[0]["state"] != "RUNNING":
            if time.monotonic() > deadline:
                raise RuntimeError(f"hass not RUNNING within {timeout}s")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL if HA has not finished shutting down within `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def output(self) -> str:
        path = self.config_dir / "hass.out"
        return path.read_text(errors="replace") if path.is_file() else ""

    # -- auth ----------------------------------------------------------------------------------------

    def _onboard(self) -> str:
        """Onboarding's user step → auth code → access token → a long-lived token (over the WebSocket)."""
        status, reply = _http("POST", f"{self.url}/api/onboarding/users", {
            "client_id": CLIENT_ID, "name": "Test Owner", "username": "owner", "password": "test-password-1",
            "language": "en"})
        if status != 200:
            raise RuntimeError(f"onboarding refused: {status} {reply}")
        status, tokens = _http("POST", f"{self.url}/auth/token", form={
            "grant_type": "authorization_code", "code": reply["auth_code"], "client_id": CLIENT_ID})
        if status != 200:
            raise RuntimeError(f"token exchange refused: {status} {tokens}")
        (long_lived,) = self.ws(("auth/long_lived_access_token", {"client_name": "ha-ingestor-tests", "lifespan": 365}),
                                token=tokens["access_token"])
        return long_lived

    # -- APIs ----------------------------------------------------------------------------------------

    def ws(self, *commands: tuple[str, dict[str, Any]], token: str | None = None, timeout: float = 30) -> list[Any]:
        """Run commands over a fresh WebSocket connection; their results, in order (a failure raises)."""
        conn = websocket.create_connection(self.ws_url, timeout=timeout)
        try:
            assert json.loads(conn.recv())["type"] == "auth_required"
            conn.send(json.dumps({"type": "auth", "access_token": token or self.token}))
            reply = json.loads(conn.recv())
            if reply["type"] != "auth_ok":
                raise RuntimeError(f"auth failed: {reply}")
            results = []
            for msg_id, (kind, fields) in enumerate(commands, start=1):
                conn.send(json.dumps({"id": msg_id, "type": kind, **fields}))
                while True:
                    message = json.loads(conn.recv())
                    if message.get("id") == msg_id and message.get("type") == "result":
                        break
                if not message["success"]:
                    raise RuntimeError(f"{kind} failed: {message['error']}")
                results.append(message["result"])
            return results
        finally:
            conn.close()

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        status, reply = _http(method, f"{self.url}{path}", body, {"Authorization": f"Bearer {self.token}"})
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {reply}")
        return reply

    def call_service(self, domain: str, service: str, **data: Any) -> Any:
        return self.rest("POST", f"/api/services/{domain}/{service}", data)

    def state(self, entity_id: str) -> dict[str, Any]:
        return self.rest("GET", f"/api/states/{entity_id}")

    def next_probe_values(self, count: int) -> list[int]:
        """Values never set before on input_number.bridge_probe, so each set is a state change."""
        with self._probe_lock:
            values = list(range(self._probe + 1, self._probe + 1 + count))
            self._probe += count
        return values

    def set_probe(self, value: int) -> None:
        self.call_service("input_number", "set_value", entity_id=PROBE, value=value)

    def probe_changes(self, count: int) -> list[int]:
        """`count` state changes of input_number.bridge_probe through the REST API; the values set."""
        values = self.next_probe_values(count)
        for value in values:
            self.set_probe(value)
        return values

    def add_uptime_device(self) -> None:
        """The built-in `uptime` integration works offline and gives the registry one device."""
        flow = self.rest("POST", "/api/config/config_entries/flow", {"handler": "uptime"})
        if flow.get("type") == "form":
            flow = self.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {})
        if flow.get("type") != "create_entry":
            raise RuntimeError(f"uptime config flow did not create an entry: {flow}")


PROBE = "input_number.bridge_probe"


@contextmanager
def running(config_dir: Path) -> Iterator[HomeAssistant]:
    ha = HomeAssistant(config_dir)
    try:
        yield ha.start()
    finally:
        ha.stop()


if __name__ == "__main__":
    path, spent = ensure_venv()
    print(json.dumps({"hass": str(path), "seconds": round(spent, 1)}))
