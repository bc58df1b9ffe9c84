"""The signature receivers verify: hex HMAC-SHA256, keyed with the webhook's secret, over "<timestamp>.<body>"."""

from __future__ import annotations

import hashlib
import hmac
import time

PREFIX = "sha256="
TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Webhook-Signature value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, given: str, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does (docs/webhooks.md): constant-time compare, and refuse stale or future timestamps."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, sent, body), given or "")
