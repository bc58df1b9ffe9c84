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


def test_a_public_address_passes() -> None:
    assert ssrf.check("https://93.184.216.34/hook", allow_private=False) == "https://93.184.216.34/hook"


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(ssrf.UnsafeTarget, match="does not resolve"):
        ssrf.check("http://no-such-host.invalid/hook", allow_private=False)
