"""The connectors' signature: what it covers, and that the same request signs the same on both sides."""

from __future__ import annotations

import pytest

from ingestor import signedcalls
from localfaas.call import signature

KEY = "connector-key-for-tests-0123456789"
NOW = 1_800_000_000.0


def verify(header: dict[str, str], method: str = "POST", path: str = "/", query: str = "", body: bytes = b"",
           now: float | None = NOW) -> None:
    signedcalls.verify(KEY, header.get(signedcalls.HEADER), method, path, query, body, now=now)


def test_a_signed_call_verifies_as_the_function_sees_it() -> None:
    """Signed on the wire's form (percent-encoded, any query order), checked on the decoded form the function has."""
    header = signedcalls.sign(KEY, "POST", "/restore%3Fx/a%2Fb", "to=2025-01-31&from=2025-01-01&n=a%20b", b"{}",
                              now=NOW)
    verify(header, path="/restore?x/a/b", query="from=2025-01-01&n=a+b&to=2025-01-31", body=b"{}")


def test_the_hand_tool_signs_a_target_as_the_gateway_forwards_it() -> None:
    header = signature(KEY, "POST", "retention-archive/restore?from=2025-01-01", b"")
    verify(header, path="/restore", query="from=2025-01-01", now=None)
    verify(signature(KEY, "POST", "write", b"[]"), body=b"[]", now=None)


@pytest.mark.parametrize("changed", [
    {"method": "PUT"}, {"path": "/run"}, {"query": "dry_run=1"}, {"body": b"{} "}, {"now": NOW + 301},
    {"now": NOW - 301},
])
def test_a_signature_covers_method_path_query_body_and_time(changed: dict) -> None:
    header = signedcalls.sign(KEY, "POST", "/", "", b"{}", now=NOW)
    with pytest.raises(signedcalls.Unsigned):
        verify(header, **{"body": b"{}", **changed})


@pytest.mark.parametrize("value", [None, "", "v1=abc", "t=soon,v1=abc", "t=1800000000", "garbage"])
def test_a_missing_or_malformed_signature_is_unsigned(value: str | None) -> None:
    with pytest.raises(signedcalls.Unsigned):
        signedcalls.verify(KEY, value, "POST", "/", "", b"", now=NOW)


def test_another_key_does_not_verify() -> None:
    header = signedcalls.sign("another-key", "POST", "/", "", b"", now=NOW)
    with pytest.raises(signedcalls.Unsigned, match="does not match"):
        verify(header)


@pytest.mark.parametrize(("method", "path", "needed"), [
    ("GET", "/status", False), ("HEAD", "/status/", False), ("GET", "/config", False), ("POST", "/status", True),
    ("GET", "/", True), ("GET", "/status/x", True), ("DELETE", "/config", True),
])
def test_only_gets_of_the_declared_reads_are_unsigned(method: str, path: str, needed: bool) -> None:
    assert signedcalls.needs_signature(method, path, ("/status", "/config")) is needed


@pytest.mark.parametrize(("method", "path", "needed"), [
    ("PUT", "/alerts/thresholds", False), ("PUT", "/alerts/thresholds/", False), ("POST", "/alerts/thresholds", True),
    ("PUT", "/alerts", True), ("POST", "/", True),
])
def test_only_the_declared_keyed_calls_go_to_their_api_key_instead(method: str, path: str, needed: bool) -> None:
    assert signedcalls.needs_signature(method, path, (), [("PUT", "/alerts/thresholds")]) is needed
