"""The webhooks admin API in process: validation, masking, the key, CRUD and the delivery log's shape."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import insert

from ingestor.errors import Problem
from ingestor.responses import HTTPError, status_of
from ingestor.webhooks import api
from ingestor.webhooks.schema import webhook_attempts

KEY = "test-admin-key-1234"


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "webhooks-api-key").write_text(KEY)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("METADATA_DB_URL", f"sqlite:///{tmp_path}/metadata.db")
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    api.store.cache_clear()
    api.current.cache_clear()
    yield
    api.store.cache_clear()
    api.current.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The metadata DB on each backend, for tests of what a database could refuse."""
    if request.param == "postgresql":
        monkeypatch.setenv("METADATA_DB_URL", request.getfixturevalue("postgres").new_database())
        api.store.cache_clear()
    return request.param


def attempts_logged(webhook_id: str, count: int) -> None:
    rows = [{"webhook_id": webhook_id, "delivery_id": f"d{n}", "event_id": f"e{n}", "event_type": "state_changed",
             "attempt": 1, "status_code": 200, "latency_ms": 1.0, "outcome": "delivered",
             "at": f"2026-11-20T12:00:{n:02d}.000000Z"} for n in range(count)]
    with api.store().transaction() as conn:
        conn.execute(insert(webhook_attempts), rows)


def call(method: str, path: str, body: Any = None, query: dict[str, str] | None = None,
         key: str | None = KEY) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    headers = {"X-API-Key": key} if key else {}
    event = SimpleNamespace(method=method, path=path, query=query or {}, body=raw, headers=headers)
    try:
        reply = api.API.handle(event)
    except (Problem, HTTPError) as exc:  # what the template answers for it
        return status_of(exc), {"error": {"code": exc.code, "message": exc.message}}
    body_out = reply["body"]
    return reply["statusCode"], json.loads(body_out) if body_out else None


def register(**extra: Any) -> dict[str, Any]:
    status, body = call("POST", "/webhooks", {"url": "http://127.0.0.1:9/hook", "filters": {"event_types": ["*"]},
                                              **extra})
    assert status == 201, body
    return body


def test_a_generated_secret_is_returned_once_then_masked() -> None:
    created = register()
    assert len(created["secret"]) >= 32 and created["secret_generated"] is True
    status, got = call("GET", f"/webhooks/{created['id']}")
    assert status == 200 and got["secret"] == "****" + created["secret"][-4:]
    _, listed = call("GET", "/webhooks")
    assert [w["secret"] for w in listed["items"]] == ["****" + created["secret"][-4:]]
    assert created["secret"] not in json.dumps(listed)


def test_a_given_secret_is_never_echoed() -> None:
    created = register(secret="my-own-secret-value-42")
    assert created["secret"] == "****e-42" and "secret_generated" not in created


def test_every_route_needs_the_key_when_one_is_configured() -> None:
    hook = register()
    for method, path in [("GET", "/webhooks"), ("POST", "/webhooks"), ("GET", f"/webhooks/{hook['id']}"),
                         ("DELETE", f"/webhooks/{hook['id']}"), ("POST", f"/webhooks/{hook['id']}/resume"),
                         ("GET", f"/webhooks/{hook['id']}/deliveries")]:
        assert call(method, path, key=None)[0] == 401, (method, path)
        assert call(method, path, key="wrong")[0] == 401, (method, path)


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"filters": {"event_types": ["*"]}}, 400, "url: required"),
    ({"url": "http://127.0.0.1:9/"}, 400, "filters: required"),
    ({"url": "ftp://example.com/", "filters": {"event_types": ["*"]}}, 400, "url: scheme must be http or https"),
    ({"url": "http://a:b@example.com/", "filters": {"event_types": ["*"]}}, 400, "url: credentials"),
    ({"url": "http://127.0.0.1:9/", "filters": {}}, 400, "at least one filter"),
    ({"url": "http://127.0.0.1:9/", "filters": {"event_types": ["*"]}, "colour": "red"}, 400, "colour: unknown"),
    ({"url": "http://127.0.0.1:9/", "filters": {"event_types": ["*"]}, "secret": "short"}, 400, "secret:"),
    ({"url": "http://127.0.0.1:9/", "filters": {"event_types": ["*"]}, "enabled": "yes"}, 400, "enabled:"),
    ({"url": "http://127.0.0.1:9/", "filters": {"event_types": ["*"]}, "name": ""}, 400, "name:"),
    ({"url": "http://127.0.0.1:9/", "filters": {"domains": ["a"] * 101}}, 400, "at most 100"),
    ([1, 2], 400, "body: expected a JSON object"),
    (b"{not json", 400, "body: expected a JSON document"),
])
def test_bad_registrations_are_clear_400s(body: Any, status: int, words: str) -> None:
    got_status, got = call("POST", "/webhooks", body)
    assert got_status == status and words in got["error"]["message"], got


def test_private_targets_are_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
    api.current.cache_clear()
    status, got = call("POST", "/webhooks", {"url": "http://127.0.0.1:9/", "filters": {"event_types": ["*"]}})
    assert status == 400 and got["error"]["code"] == "url_refused" and "loopback" in got["error"]["message"]
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS" in got["error"]["message"]


def test_a_6to4_address_of_loopback_is_refused_like_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
    api.current.cache_clear()
    status, got = call("POST", "/webhooks", {"url": "http://[2002:7f00:1::]/", "filters": {"event_types": ["*"]}})
    assert status == 400 and got["error"]["code"] == "url_refused"
    assert "carries 127.0.0.1 as 6to4), a loopback address" in got["error"]["message"]


def test_patch_changes_only_what_it_names_and_put_keeps_the_secret() -> None:
    hook = register(secret="first-secret-value-0001", name="mine")
    status, patched = call("PATCH", f"/webhooks/{hook['id']}", {"enabled": False})
    assert status == 200 and patched["enabled"] is False and patched["name"] == "mine"
    assert call("PATCH", f"/webhooks/{hook['id']}", {})[0] == 400
    status, replaced = call("PUT", f"/webhooks/{hook['id']}", {"url": "http://127.0.0.1:10/other",
                                                               "filters": {"domains": ["light"]}})
    assert status == 200 and replaced["url"] == "http://127.0.0.1:10/other"
    assert replaced["filters"] == {"domains": ["light"]} and replaced["secret"] == "****0001"


def test_unknown_ids_are_404_and_delete_removes() -> None:
    hook = register()
    assert call("GET", "/webhooks/wh_000000000000000000000000")[0] == 404
    assert call("GET", "/webhooks/not-an-id")[0] == 404
    assert call("DELETE", f"/webhooks/{hook['id']}")[0] == 204
    assert call("GET", f"/webhooks/{hook['id']}")[0] == 404


def test_the_list_paginates_with_a_cursor() -> None:
    ids = [register()["id"] for _ in range(5)]
    _, first = call("GET", "/webhooks", query={"limit": "2"})
    _, second = call("GET", "/webhooks", query={"limit": "2", "cursor": first["next_cursor"]})
    _, third = call("GET", "/webhooks", query={"limit": "2", "cursor": second["next_cursor"]})
    assert [w["id"] for w in first["items"] + second["items"] + third["items"]] == ids
    assert third["next_cursor"] is None
    assert call("GET", "/webhooks", query={"cursor": "bogus"})[0] == 400


def test_webhooks_created_within_one_millisecond_list_in_creation_order(monkeypatch: pytest.MonkeyPatch,
                                                                       backend: str) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_790_000_000.123)  # every id made in the same millisecond
    ids = [register()["id"] for _ in range(20)]
    assert ids == sorted(ids)
    listed, cursor = [], None
    while True:
        _, page = call("GET", "/webhooks", query={"limit": "3", **({"cursor": cursor} if cursor else {})})
        listed += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed == ids


def test_ids_keep_increasing_when_the_newest_webhook_is_deleted_and_the_clock_steps_back(
        monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    first = register()["id"]
    call("DELETE", f"/webhooks/{first}")
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)  # 2001: an NTP step, or a wrong clock
    assert register()["id"] > first


def test_the_delivery_log_pages_newest_first_with_a_cursor(backend: str) -> None:
    hook = register()
    attempts_logged(hook["id"], 5)
    seen, cursor = [], None
    for _ in range(3):
        _, page = call("GET", f"/webhooks/{hook['id']}/deliveries", query={"limit": "2", **({"cursor": cursor}
                                                                                          if cursor else {})})
        seen += [a["delivery_id"] for a in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["d4", "d3", "d2", "d1", "d0"] and cursor is None


@pytest.mark.parametrize("cursor", ["99999999999999999999999999", "9223372036854775808", "²", "①", "１", "-1", "0",
                                    "1.5", " 1", "1\n", "0x10", "1e3"])
def test_a_malformed_delivery_log_cursor_is_a_400_naming_it(backend: str, cursor: str) -> None:
    hook = register()
    attempts_logged(hook["id"], 1)
    status, got = call("GET", f"/webhooks/{hook['id']}/deliveries", query={"cursor": cursor})
    assert status == 400 and got["error"]["code"] == "bad_parameter", got
    assert got["error"]["message"].startswith("cursor: "), got


@pytest.mark.parametrize("cursor", ["bogus", "wh_" + "0" * 24 + "\n", "wh_" + "Z" * 24, "²"])
def test_a_malformed_list_cursor_is_a_400_naming_it(cursor: str) -> None:
    register()
    status, got = call("GET", "/webhooks", query={"cursor": cursor})
    assert status == 400 and got["error"]["message"].startswith("cursor: "), got


def test_the_openapi_document_describes_every_route() -> None:
    status, doc = call("GET", "/openapi.json", key=None)
    assert status == 200
    assert set(doc["paths"]) >= {"/webhooks", "/webhooks/{webhook_id}", "/webhooks/{webhook_id}/deliveries",
                                 "/webhooks/{webhook_id}/resume"}
    assert set(doc["paths"]["/webhooks/{webhook_id}"]) == {"get", "put", "patch", "delete"}
