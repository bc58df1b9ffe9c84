"""webhooks' handler: the admin API behind the webhooks-api-key secret, described at GET /openapi.json; deployed
without that secret it answers reads and refuses every change (503 naming the secret), never open."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.function import invoke, load_handler

KEY = "webhooks-admin-key-0001"
HOOK = {"url": "https://93.184.216.34/hook", "filters": {"domains": ["light"]}}


def test_the_api_needs_its_key_when_one_is_configured(process: Path) -> None:
    (process / "secrets" / "webhooks-api-key").write_text(KEY)
    handler = load_handler("webhooks")
    assert invoke(handler, "GET", "/webhooks")[0] == 401
    status, answer = invoke(handler, "GET", "/webhooks", headers={"X-API-Key": KEY})
    assert status == 200 and answer["items"] == []
    assert handler.health()["status"] == "ok"


def test_without_its_key_configured_every_call_is_refused_naming_the_secret(process: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOKS_API_KEY", raising=False)
    handler = load_handler("webhooks")
    for method, path, body in (("POST", "/webhooks", HOOK), ("PUT", "/webhooks/wh_0", HOOK),
                               ("PATCH", "/webhooks/wh_0", {"enabled": False}), ("DELETE", "/webhooks/wh_0", None),
                               ("POST", "/webhooks/wh_0/resume", None), ("GET", "/webhooks", None),
                               ("GET", "/webhooks/wh_0", None), ("GET", "/webhooks/wh_0/deliveries", None)):
        status, answer = invoke(handler, method, path, body=body, headers={"X-API-Key": "a guess"})
        assert status == 503 and answer["error"]["code"] == "api_key_not_configured", (method, path, answer)
        assert "webhooks-api-key" in answer["error"]["message"]


def test_the_key_from_the_environment_serves_when_no_secret_file_is_there(process: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_API_KEY", KEY)
    handler = load_handler("webhooks")
    assert invoke(handler, "POST", "/webhooks", body=HOOK)[0] == 401
    assert invoke(handler, "POST", "/webhooks", body=HOOK, headers={"X-API-Key": KEY})[0] == 201


def test_the_openapi_document_describes_the_routes(process: Path) -> None:
    status, document = invoke(load_handler("webhooks"), "GET", "/openapi.json")
    assert status == 200 and "/webhooks/{webhook_id}" in document["paths"]
