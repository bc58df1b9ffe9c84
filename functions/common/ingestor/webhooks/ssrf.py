"""Which URLs a webhook may target: http(s) only, no credentials, and no internal addresses.

A webhook makes this service send requests on a user's behalf, so a registration must not reach the
host's own services, the LAN or a cloud metadata endpoint (169.254.169.254). Every address the name
resolves to is checked, at registration and again before each delivery (DNS can change).
WEBHOOK_ALLOW_PRIVATE_TARGETS=true allows loopback, private and link-local targets (a receiver on the
same LAN); unspecified, multicast and reserved addresses are refused whatever the setting.

An IPv6 address can carry an IPv4 one that a tunnel or translator on the path delivers to (6to4, NAT64,
Teredo, ISATAP, the IPv4-mapped, -compatible and -translated forms): such an address is judged by the
IPv4 address it carries as well, so `[2002:7f00:1::]` is loopback like 127.0.0.1.
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


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_ISATAP_IDS = (0x0000_5EFE, 0x0200_5EFE)  # interface identifier ::0:5efe:a.b.c.d, ::200:5efe:a.b.c.d


def embedded(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses `address` carries, each with the name of its form.

    NAT64 addresses are read at the /96 position (RFC 6052), the one the well-known prefix uses; the
    local-use prefix 64:ff9b:1::/48 allows other positions, and an address in it is refused as reserved anyway.
    """
    value = int(address)
    low32 = ipaddress.IPv4Address(value & 0xFFFF_FFFF)
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.ipv4_mapped is not None:
        found.append(("IPv4-mapped", address.ipv4_mapped))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo client", client), ("Teredo server", server)]
    if any(address in prefix for prefix in _NAT64):
        found.append(("NAT64", low32))
    if address in _TRANSLATED:
        found.append(("IPv4-translated", low32))
    if address in _COMPATIBLE and value > 1:  # not :: or ::1
        found.append(("IPv4-compatible", low32))
    if (value >> 32) & 0xFFFF_FFFF in _ISATAP_IDS:
        found.append(("ISATAP", low32))
    return found


def _judge(address: IPAddress, allow_private: bool) -> str | None:
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


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why `address` may not be called, or None: "loopback", or for an IPv6 address carrying a refused IPv4
    one "loopback (carries 127.0.0.1 as 6to4)". IPv4-mapped and well-known NAT64 addresses are only ways to
    write or reach their IPv4 address, so that alone judges them; the other forms are judged as themselves too."""
    if isinstance(address, ipaddress.IPv4Address):
        return _judge(address, allow_private)
    carried = embedded(address)
    for form, inner in carried:
        reason = _judge(inner, allow_private)
        if reason:
            return f"{reason} (carries {inner} as {form})"
    if any(form in ("IPv4-mapped", "NAT64") for form, _ in carried) and address not in _NAT64[1]:
        return None
    return _judge(address, allow_private)


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
            kind, _, carried = reason.partition(" ")
            hint = "" if kind in ("unspecified", "multicast", "reserved") else \
                " (set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it)"
            raise UnsafeTarget(f"host {host!r} resolves to {address}{' ' + carried if carried else ''}, "
                               f"a {kind} address{hint}")
    return str(url)
