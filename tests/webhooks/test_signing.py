"""The signature: hex HMAC-SHA256 with the webhook's secret over "<timestamp>.<body>", prefixed sha256=."""

from __future__ import annotations

import hashlib
import hmac
import time

from ingestor.webhooks import delivery, signing
from tests.webhooks import receiver


def test_the_signature_is_the_documented_hmac() -> None:
    body = b'{"a":1}'
    expected = "sha256=" + hmac.new(b"s3cret-s3cret-16", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature("s3cret-s3cret-16", 1700000000, body) == expected


def test_headers_carry_id_event_timestamp_and_a_signature_the_docs_example_accepts() -> None:
    body = delivery.body_of("wh_1", "dlv_1", b'{"event_id":"e1"}')
    headers = delivery.headers_for("a-long-enough-secret", "dlv_1", "state_changed", body)
    assert headers["X-Webhook-Id"] == "dlv_1" and headers["X-Webhook-Event"] == "state_changed"
    assert abs(int(headers["X-Webhook-Timestamp"]) - time.time()) < 5
    assert receiver.verify("a-long-enough-secret", headers["X-Webhook-Timestamp"], body,
                           headers["X-Webhook-Signature"])


def test_a_changed_body_or_another_secret_fails_verification() -> None:
    now = int(time.time())
    sig = signing.signature("a-long-enough-secret", now, b"{}")
    assert not signing.verify("a-long-enough-secret", str(now), b"{ }", sig)
    assert not signing.verify("another-long-secret!", str(now), b"{}", sig)
    assert signing.verify("a-long-enough-secret", str(now), b"{}", sig)


def test_a_timestamp_older_than_five_minutes_is_refused() -> None:
    old = int(time.time()) - 301
    assert not signing.verify("a-long-enough-secret", str(old), b"{}", signing.signature("a-long-enough-secret",
                                                                                          old, b"{}"))
    assert not receiver.verify("a-long-enough-secret", str(old), b"{}",
                               signing.signature("a-long-enough-secret", old, b"{}"))


def test_the_body_wraps_the_event_with_webhook_and_delivery_ids() -> None:
    import json
    assert json.loads(delivery.body_of("wh_1", "dlv_1", b'{"event_id":"e1"}')) == {
        "webhook_id": "wh_1", "delivery_id": "dlv_1", "event": {"event_id": "e1"}}


def test_an_event_type_that_cannot_be_a_header_is_made_safe() -> None:
    headers = delivery.headers_for("a-long-enough-secret", "dlv_1", "état changé\r\nX: y", b"{}")
    assert headers["X-Webhook-Event"] == "?tat?chang???X:?y"
