"""Reading the OpenFaaS gateway: the function list, a function's own paths, and plain URLs (the bridge)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ingestor import config, jsoncodec

DEFAULT_USER = "admin"  # OpenFaaS's default gateway user


class Unreachable(Exception):
    """The URL did not answer (refused, timed out, not JSON where JSON was expected)."""


class TimedOut(Unreachable):
    """No answer within the probe timeout: slow, perhaps not down."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return jsoncodec.loads(self.body)
        except ValueError:
            raise Unreachable(f"HTTP {self.status}: not a JSON answer") from None

    def excerpt(self, limit: int = 300) -> str:
        text = self.body[:limit].decode("utf-8", "replace").strip()
        return text + ("…" if len(self.body) > limit else "")


class HttpClient:
    """One pooled session for every probe thread; each request carries the probe timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def get(self, url: str, auth: tuple[str, str] | None = None) -> Answer:
        try:
            r = self.session.get(url, timeout=self.timeout, auth=auth)
        except requests.Timeout:
            raise TimedOut(f"no answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise Unreachable(f"unreachable ({type(exc).__name__})") from None
        return Answer(r.status_code, r.content)


def basic_auth() -> tuple[str, str] | None:
    """A real OpenFaaS gateway's credentials (its `basic-auth` secret, as the topic connector reads them);
    None when none is configured (the local gateway needs none)."""
    password = config.secret("basic-auth-password", "BASIC_AUTH_PASSWORD")
    if not password:
        return None
    return config.secret("basic-auth-user", "BASIC_AUTH_USER") or DEFAULT_USER, password


class Gateway:
    def __init__(self, url: str, client: HttpClient, auth: tuple[str, str] | None = None) -> None:
        self.url = url
        self.client = client
        self.auth = auth  # sent on /system/* only: functions never see the gateway's credentials

    def functions(self) -> list[dict[str, Any]]:
        answer = self.client.get(f"{self.url}/system/functions", self.auth)
        if answer.status == 401:
            raise Unreachable("/system/functions answered HTTP 401: the gateway wants its basic-auth secrets "
                              "(basic-auth-user / basic-auth-password)")
        if answer.status != 200:
            raise Unreachable(f"/system/functions answered HTTP {answer.status}: {answer.excerpt()}")
        listed = answer.json()
        if not isinstance(listed, list):
            raise Unreachable("/system/functions did not answer a list")
        return [f for f in listed if isinstance(f, dict) and isinstance(f.get("name"), str)]

    def call(self, function: str, path: str) -> Answer:
        return self.client.get(f"{self.url}/function/{function}/{path.lstrip('/')}")

    def json(self, function: str, path: str) -> Any:
        """A function's JSON answer to GET `path`; Unreachable for anything but a 200 with JSON."""
        answer = self.call(function, path)
        if answer.status != 200:
            raise Unreachable(f"GET /function/{function}/{path.lstrip('/')}: HTTP {answer.status}: {answer.excerpt()}")
        return answer.json()
