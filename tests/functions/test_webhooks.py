"""webhooks' handler: the admin API behind the webhooks-api-key secret, described at GET /openapi.json."""

from __future__ import annotations

from pathlib import Path

from tests.support.function import invoke, load_handler

KEY = "webhooks-admin-key-0001"


def test_the_api_needs_its_key_when_one_is_configured(process: Path) -> None:
    (process / "secrets" / "webhooks-api-key").write_text(KEY)
    handler = load_handler("webhooks")
    assert invoke(handler, "GET", "/webhooks")[0] == 401
    status, answer = invoke(handler, "GET", "/webhooks", headers={"X-API-Key": KEY})
    assert status == 200 and answer["items"] == []
    assert handler.health()["status"] == "ok"


def test_the_openapi_document_describes_the_routes(process: Path) -> None:
    status, document = invoke(load_handler("webhooks"), "GET", "/openapi.json")
    assert status == 200 and "/webhooks/{webhook_id}" in document["paths"]
