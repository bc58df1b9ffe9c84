"""Invoking a function through a gateway and deciding what its answer means for the message."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from ingestor import signedcalls

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    OK = "ok"  # 2xx: ack
    BAD_INPUT = "bad_input"  # 4xx: the message itself is wrong; dead-letter it
    UNAVAILABLE = "unavailable"  # 503/429/401 or gateway unreachable: wait and retry, without limit
    FAILED = "failed"  # 5xx or timeout: retry with backoff, dead-letter after max deliveries


@dataclass
class Result:
    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def outcome(self) -> Outcome:
        if self.status is None:
            return Outcome.FAILED if self.error == "timeout" else Outcome.UNAVAILABLE
        if 200 <= self.status < 300:
            return Outcome.OK
        # 401: the function refused the caller (a missing or rotated connector-key), not the message
        if self.status in (401, 429, 503):
            return Outcome.UNAVAILABLE
        if 400 <= self.status < 500 and self.status != 408:
            return Outcome.BAD_INPUT
        return Outcome.FAILED

    @property
    def timed_out(self) -> bool:
        """No answer in time: from the caller's own timeout, or the gateway's 504."""
        return self.error == "timeout" or self.status == 504

    @property
    def reason(self) -> str:
        """Why it failed, from the function's {"error": {...}} body when it sent one."""
        if self.error:
            return self.error
        text = self.body[:2000].decode("utf-8", "replace")
        return f"HTTP {self.status}: {text}"


_refused: set[str] = set()  # functions whose 401 was logged: once per process, however often it repeats


async def invoke(session: aiohttp.ClientSession, gateway: str, name: str, body: bytes, *, timeout: float,
                 method: str = "POST", path: str = "", query: str = "",
                 headers: dict[str, str] | None = None, key: str | None = None) -> Result:
    """`path` and `query` as they go on the wire (percent-encoded); with `key` the call is signed
    (ingestor.signedcalls), as the functions that change data require."""
    path = "/" + path.lstrip("/") if path else ""
    url = URL(f"{gateway}/function/{name}{path}" + (f"?{query}" if query else ""), encoded=True)
    sent = signed(headers, key, method, path, query, body)
    try:
        async with session.request(method, url, data=body, headers=sent,
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            result = Result(r.status, await r.read(), dict(r.headers))
    except TimeoutError:
        return Result(None, error="timeout")
    except aiohttp.ClientError as exc:
        return Result(None, error=f"gateway unreachable: {type(exc).__name__}")
    return refusal_noted(result, name, key)


def signed(headers: dict[str, str] | None, key: str | None, method: str, path: str, query: str,
           body: bytes) -> dict[str, str]:
    """`headers` with the connectors' signature of the call when there is a `key` (ingestor.signedcalls)."""
    return {**(headers or {}), **(signedcalls.sign(key, method, path, query, body) if key else {})}


def refusal_noted(result: Result, name: str, key: str | None) -> Result:
    """A 401 is logged once per function and process, however often it repeats."""
    if result.status == 401 and name not in _refused:
        _refused.add(name)
        hint = " (is its connector-key the one this connector signs with?)" if key else ""
        log.error(f"the function answered 401 Unauthorized; its calls wait and are retried{hint}",
                  extra={"function": name})
    return result
