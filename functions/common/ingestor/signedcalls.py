"""The connectors' signed calls: how a function that changes data knows its topic or cron connector called it.

A function whose environment sets REQUIRE_CONNECTOR_SIGNATURE=true (stack.yml; it also lists the
`connector-key` secret) answers only requests carrying

    X-Connector-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

keyed with the `connector-key` secret, over the version, the timestamp, the method, the path and query
the function sees, and the SHA-256 of the body. The key never travels; a signature is good for WINDOW_S
either side of its timestamp, for that one request. GET/HEAD of the paths a handler lists in
UNSIGNED_READS stay open (status pages the dashboard and health read); the (method, path) calls it lists
in KEYED_CALLS are a person's, checked against their API's key instead (ingestor.apikeys: health's
PUT /alerts/thresholds). The template checks this before the handler sees a request; its own /_/health,
/_/ready and /_/metrics never need it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Collection
from urllib.parse import parse_qsl, unquote, urlencode

from ingestor import config

SECRET = "connector-key"
HEADER = "X-Connector-Signature"
REQUIRED = "REQUIRE_CONNECTOR_SIGNATURE"
WINDOW_S = 300
VERSION = "v1"
READS = ("GET", "HEAD")


class Unsigned(Exception):
    """The request carries no valid signature; the message says which check failed (safe to show)."""


def required() -> bool:
    return config.env_bool(REQUIRED, False)


def key() -> str | None:
    """The shared key (the `connector-key` secret, else CONNECTOR_KEY); registered with the log redactor."""
    return config.secret(SECRET, "CONNECTOR_KEY")


def needs_signature(method: str, path: str, unsigned_reads: Collection[str],
                    keyed_calls: Collection[tuple[str, str]] = ()) -> bool:
    path = _path(path).rstrip("/")
    if (method.upper(), path) in {(m.upper(), _path(p).rstrip("/")) for m, p in keyed_calls}:
        return False
    return not (method.upper() in READS and path in {_path(p).rstrip("/") for p in unsigned_reads})


def _path(path: str) -> str:
    return "/" + path.lstrip("/")


def _query(query: str) -> str:
    """The query in one form whatever the client's encoding: decoded pairs, sorted, encoded again."""
    return urlencode(sorted(parse_qsl(query, keep_blank_values=True)))


def _mac(secret: str, timestamp: int, method: str, path: str, query: str, body: bytes) -> str:
    message = "\n".join((VERSION, str(timestamp), method.upper(), _path(path), _query(query),
                         hashlib.sha256(body).hexdigest()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, query: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The header for a call to a function's `path` as sent on the wire (percent-encoded) and `query`."""
    timestamp = int(time.time() if now is None else now)
    return {HEADER: f"t={timestamp},{VERSION}={_mac(secret, timestamp, method, unquote(path), query, body)}"}


def verify(secret: str, value: str | None, method: str, path: str, query: str, body: bytes,
           now: float | None = None) -> None:
    """Unsigned unless `value` signs this request (`path` decoded, as the function sees it) within the window."""
    if not value:
        raise Unsigned(f"no {HEADER} header")
    fields = dict(part.strip().partition("=")[::2] for part in value.split(","))
    try:
        timestamp = int(fields["t"])
        given = fields[VERSION]
    except (KeyError, ValueError):
        raise Unsigned(f"{HEADER} is not t=<unix seconds>,{VERSION}=<hex>") from None
    if abs((time.time() if now is None else now) - timestamp) > WINDOW_S:
        raise Unsigned(f"the signature's time is more than {WINDOW_S} s away from this function's clock")
    if not hmac.compare_digest(_mac(secret, timestamp, method, path, query, body).encode(), given.encode()):
        raise Unsigned("the signature does not match this request and key")
