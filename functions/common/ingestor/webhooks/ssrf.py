"""Which URLs a webhook may target: http(s) only, no credentials, and no internal addresses.

A webhook makes this service send requests on a user's behalf, so a registration must not reach the
host's own services, the LAN or a cloud metadata endpoint (169.254.169.254). Every address the name
resolves to is checked, at registration and again before each delivery (DNS can change).
WEBHOOK_ALLOW_PRIVATE_TARGETS=true allows loopback, private and link-local targets (a receiver on the
same LAN); unspecified, multicast and reserved addresses are refused whatever the setting.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

MAX_URL = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL may not be called; the message says why (safe to show to the user)."""


def parse(url: object) -> SplitResult:
    """The URL split, or UnsafeTarget when its form is wrong (checks that need no DNS)."""
    if not isinstance(url, str) or not url:
        raise UnsafeTarget("expected an http(s) URL")
    if len(url) > MAX_URL:
        raise UnsafeTarget(f"at most {MAX_URL} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeTarget("no spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget(f"scheme must be http or https, got {parts.scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeTarget("credentials in the URL are not allowed; authenticate with the signature")
    if not parts.hostname:
        raise UnsafeTarget("a host is required")
    return parts


def _unwrap(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why `address` may not be called, or None."""
    address = _unwrap(address)
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    for name, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                       ("private", address.is_private)):
        if flag:
            return None if allow_private else name
    if address.is_reserved:
        return "reserved"
    if not address.is_global:  # shared (100.64/10), documentation and benchmark ranges
        return None if allow_private else "non-public"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"host {host!r} does not resolve ({exc})") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check(url: object, allow_private: bool) -> str:
    """The URL when it may be called; UnsafeTarget naming the reason otherwise."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in resolve(host, port):
        reason = refusal(address, allow_private)
        if reason:
            hint = "" if reason in ("unspecified", "multicast", "reserved") else \
                " (set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it)"
            raise UnsafeTarget(f"host {host!r} resolves to {address}, a {reason} address{hint}")
    return str(url)
