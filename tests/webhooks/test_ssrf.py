"""The SSRF guard: only public http(s) targets, unless private ones are allowed explicitly."""

from __future__ import annotations

import pytest

from ingestor.webhooks import ssrf


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://172.31.255.254/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://localhost:9000/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 written as a number
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[fc00::1]/hook", "private"),
])
def test_internal_targets_are_refused_by_default(url: str, reason: str) -> None:
    with pytest.raises(ssrf.UnsafeTarget, match=reason):
        ssrf.check(url, allow_private=False)


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://example.com/hook", "scheme must be http or https"),
    ("file:///etc/passwd", "scheme must be http or https"),
    ("http:///hook", "a host is required"),
    ("http://user:pass@example.com/hook", "credentials"),
    ("http://user@example.com/hook", "credentials"),
    ("http://example.com:99999/hook", "not a valid URL"),
    ("http://exa mple.com/", "no spaces"),
    ("", "expected an http"),
    ("http://" + "a" * 2100 + ".com/", "at most 2048"),
])
def test_malformed_urls_are_refused_without_resolving(url: str, reason: str) -> None:
    with pytest.raises(ssrf.UnsafeTarget, match=reason):
        ssrf.check(url, allow_private=True)


def test_allowing_private_targets_admits_loopback_and_lan_but_not_unspecified_or_multicast() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://192.168.1.10/", "http://[::1]/"):
        assert ssrf.check(url, allow_private=True) == url
    for url in ("http://0.0.0.0/", "http://224.0.0.1/"):
        with pytest.raises(ssrf.UnsafeTarget):
            ssrf.check(url, allow_private=True)


@pytest.mark.parametrize(("url", "reason", "carried"), [
    ("http://[2002:7f00:1::]/", "loopback", "127.0.0.1 as 6to4"),
    ("http://[2002:a9fe:a9fe::1]/", "link-local", "169.254.169.254 as 6to4"),
    ("http://[2002:c0a8:101::]/", "private", "192.168.1.1 as 6to4"),
    ("http://[64:ff9b::7f00:1]/", "loopback", "127.0.0.1 as NAT64"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local", "169.254.169.254 as NAT64"),
    ("http://[64:ff9b:1::a00:1]/", "private", "10.0.0.1 as NAT64"),
    # Teredo: the client address is stored inverted (80ff:fffe is 127.0.0.1, a247:27dd 93.184.216.34)
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "loopback", "127.0.0.1 as Teredo client"),
    ("http://[2001:0:a9fe:a9fe:8000:63bf:a247:27dd]/", "link-local", "169.254.169.254 as Teredo server"),
    ("http://[::7f00:1]/", "loopback", "127.0.0.1 as IPv4-compatible"),
    ("http://[::ffff:0:7f00:1]/", "loopback", "127.0.0.1 as IPv4-translated"),
    ("http://[2a00:1450::5efe:a9fe:a9fe]/", "link-local", "169.254.169.254 as ISATAP"),
    ("http://[2a00:1450::200:5efe:7f00:1]/", "loopback", "127.0.0.1 as ISATAP"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local", "169.254.169.254 as IPv4-mapped"),
])
def test_ipv6_forms_carrying_an_internal_ipv4_address_are_refused_naming_it(url: str, reason: str,
                                                                           carried: str) -> None:
    with pytest.raises(ssrf.UnsafeTarget, match=f"carries {carried}\\), a {reason} address"):
        ssrf.check(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://[2002:7f00:1::]/", "http://[64:ff9b::7f00:1]/", "http://[::7f00:1]/"])
def test_carried_ipv4_is_judged_as_itself_when_private_targets_are_allowed(url: str) -> None:
    """Allowed private targets admit a carried loopback, but a carried unspecified or multicast address never."""
    if url != "http://[::7f00:1]/":  # IPv4-compatible addresses are deprecated: reserved whatever they carry
        assert ssrf.check(url, allow_private=True) == url
    for never in ("http://[2002::1]/", "http://[64:ff9b::e000:1]/", "http://[2002:e000:1::]/"):
        with pytest.raises(ssrf.UnsafeTarget, match="unspecified|multicast"):
            ssrf.check(never, allow_private=True)


@pytest.mark.parametrize("url", ["http://[2002:5db8:d822::1]/",  # 6to4 of 93.184.216.34
                                 "http://[64:ff9b::5db8:d822]/"])  # the well-known NAT64 prefix (DNS64 networks)
def test_ipv6_forms_carrying_a_public_ipv4_address_pass(url: str) -> None:
    assert ssrf.check(url, allow_private=False) == url


def test_a_public_address_passes() -> None:
    assert ssrf.check("https://93.184.216.34/hook", allow_private=False) == "https://93.184.216.34/hook"


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(ssrf.UnsafeTarget, match="does not resolve"):
        ssrf.check("http://no-such-host.invalid/hook", allow_private=False)
