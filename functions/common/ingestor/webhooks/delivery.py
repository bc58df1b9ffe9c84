"""One delivery attempt: sign, POST, and say what the answer means.

2xx: delivered. 408, 429, 5xx, timeouts and connection errors: retry later. Other 4xx, redirects (not
followed: a redirect could point inside the network) and refused targets: not retried (dead-lettered).
requests (10 MB of a process) is imported by the first session: a home without webhooks never loads it.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingestor.webhooks import signing, ssrf
from ingestor.webhooks.settings import Settings

if TYPE_CHECKING:
    import requests

USER_AGENT = "ha-ingestor-webhooks/1"
MAX_ERROR = 300
RETRYABLE_4XX = (408, 429)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    retryable: bool
    status_code: int | None
    latency_ms: float
    error: str | None
    retry_after_s: float | None = None
    kind: str = "ok"  # for metrics: ok, http_4xx, http_5xx, redirect, timeout, connection, refused


def body_of(webhook_id: str, delivery_id: str, event_json: bytes) -> bytes:
    """{"webhook_id", "delivery_id", "event"}: the stored event's JSON spliced in, not re-encoded."""
    return (b'{"webhook_id":"' + webhook_id.encode() + b'","delivery_id":"' + delivery_id.encode()
            + b'","event":' + event_json + b"}")


def headers_for(secret: str, delivery_id: str, event_type: str | None, body: bytes,
                timestamp: int | None = None) -> dict[str, str]:
    sent = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Webhook-Id": delivery_id,
            "X-Webhook-Event": re.sub(r"[^\x21-\x7e]", "?", event_type or "")[:128], "X-Webhook-Timestamp": str(sent),
            "X-Webhook-Signature": signing.signature(secret, sent, body)}


def new_session(pool: int) -> requests.Session:
    """Pooled connections writing each request whole (ingestor.webhooks.transport); proxies from the
    environment are ignored, so the checked host is the one called."""
    import requests

    from ingestor.webhooks.transport import OneWriteAdapter

    session = requests.Session()
    session.trust_env = False
    adapter = OneWriteAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def send(session: requests.Session, settings: Settings, url: str, secret: str, delivery_id: str,
         event_type: str | None, body: bytes) -> Attempt:
    import requests  # loaded by new_session already

    started = time.perf_counter()
    try:
        ssrf.check(url, settings.allow_private)
    except ssrf.UnsafeTarget as exc:
        # A name that stopped resolving may come back: retry; one that resolves inside the network: never.
        retryable = "does not resolve" in str(exc)
        return Attempt(False, retryable, None, _ms(started), f"target refused: {exc}"[:MAX_ERROR],
                       kind="connection" if retryable else "refused")
    try:
        response = session.post(url, data=body, headers=headers_for(secret, delivery_id, event_type, body),
                                timeout=settings.timeout_s, allow_redirects=False)
        response.close()
    except requests.Timeout:
        return Attempt(False, True, None, _ms(started), f"timeout after {settings.timeout_s:g} s", kind="timeout")
    except requests.RequestException as exc:
        return Attempt(False, True, None, _ms(started), f"connection error: {type(exc).__name__}", kind="connection")
    except (ValueError, OSError) as exc:  # e.g. a header or URL the HTTP client cannot encode: will not get better
        return Attempt(False, False, None, _ms(started), f"request not sendable: {type(exc).__name__}",
                       kind="refused")
    status = response.status_code
    latency = _ms(started)
    if 200 <= status < 300:
        return Attempt(True, False, status, latency, None)
    if 300 <= status < 400:
        return Attempt(False, False, status, latency, f"HTTP {status}: redirects are not followed", kind="redirect")
    retryable = status >= 500 or status in RETRYABLE_4XX
    return Attempt(False, retryable, status, latency, f"HTTP {status}", _retry_after(response),
                   kind="http_5xx" if status >= 500 else "http_4xx")


def backoff(settings: Settings, tries: int, retry_after_s: float | None = None) -> float:
    """Seconds before the next attempt after `tries` of the schedule: base · 2^(n-1), capped, with jitter in
    [½, 1]; Retry-After when longer."""
    delay = min(settings.backoff_s * 2 ** max(tries - 1, 0), settings.backoff_cap_s)
    delay *= random.uniform(0.5, 1.0)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, settings.backoff_cap_s))
    return delay


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
