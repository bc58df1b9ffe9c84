"""ingestor.httpapi: declared routes answer bad input with 400s and describe themselves in OpenAPI."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ingestor import jsoncodec, responses
from ingestor.apikeys import ApiKey
from ingestor.errors import Invalid, Problem
from ingestor.httpapi import Api, Param, Request, Route
from ingestor.responses import HTTPError
from ingestor.store.model import StoreError, StoreUnavailable


def _echo(request: Request) -> dict[str, Any]:
    return {key: str(value) for key, value in request.params.items()}


KEY = ApiKey("items-api-key", "ITEMS_API_KEY")
API = Api("t", "1", "test", [
    Route("GET", "/items", _echo, "list", params=(Param("limit", kind="integer", minimum=1, maximum=10, default=5),
                                                   Param("start", kind="time", default="-1h"),
                                                   Param("order", enum=("asc", "desc")))),
    Route("GET", "/items/{item_id}", _echo, "one", params=(Param("item_id"),)),
    Route("GET", "/secrets", _echo, "read behind the key", needs_key=True),
    Route("POST", "/items", lambda r: r.body, "create", body={"type": "object"}, status=201, needs_key=True),
], key=KEY)


@pytest.fixture(autouse=True)
def configured_key(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key from ITEMS_API_KEY, in a secrets folder of none."""
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("ITEMS_API_KEY", "s3cret")


def call(method: str, path: str, query: dict[str, str] | None = None, body: bytes = b"",
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = SimpleNamespace(method=method, path=path, query=query or {}, body=body, headers=headers or {})
    return API.handle(event)


def status_of(method: str, path: str, **kwargs: Any) -> int:
    try:
        return call(method, path, **kwargs)["statusCode"]
    except (Problem, HTTPError) as exc:  # what the template answers for it
        return responses.status_of(exc)


def test_defaults_fill_missing_parameters_and_relative_times_resolve() -> None:
    body = jsoncodec.loads(call("GET", "/items")["body"])
    assert body["limit"] == "5" and body["order"] == "None" and body["start"].startswith("20")


def test_path_parameters_reach_the_handler() -> None:
    assert jsoncodec.loads(call("GET", "/items/light.kitchen")["body"]) == {"item_id": "light.kitchen"}


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "abc"}, {"limit": "11"}, {"start": "yesterday"},
                                   {"order": "sideways"}, {"order": "a\x00"}])
def test_bad_parameter_values_are_400_naming_the_parameter(query: dict[str, str]) -> None:
    with pytest.raises(Invalid) as caught:
        call("GET", "/items", query)
    assert responses.status_of(caught.value) == 400 and list(query)[0] in caught.value.message


def test_unknown_paths_are_404_and_wrong_methods_405() -> None:
    assert status_of("GET", "/nope") == 404
    assert status_of("DELETE", "/items") == 405


def test_routes_that_need_a_key_refuse_without_it_and_accept_either_header() -> None:
    assert status_of("POST", "/items", body=b"{}") == 401
    assert status_of("POST", "/items", body=b"{}", headers={"X-API-Key": "wrong"}) == 401
    assert status_of("POST", "/items", body=b"{}", headers={"X-API-Key": "s3cret"}) == 201
    assert status_of("POST", "/items", body=b"{}", headers={"Authorization": "Bearer s3cret"}) == 201
    assert status_of("GET", "/secrets") == 401


def test_with_no_key_configured_a_call_that_changes_data_is_refused_naming_the_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITEMS_API_KEY")
    for headers in ({}, {"X-API-Key": ""}, {"X-API-Key": "anything"}):
        with pytest.raises(Problem) as caught:
            call("POST", "/items", body=b"{}", headers=headers)
        assert responses.status_of(caught.value) == 503 and caught.value.code == "api_key_not_configured"
        assert "items-api-key" in caught.value.message


def test_with_no_key_configured_a_read_behind_the_key_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITEMS_API_KEY")
    with pytest.raises(Problem) as caught:
        call("GET", "/secrets")
    assert responses.status_of(caught.value) == 503 and caught.value.code == "api_key_not_configured"


def test_the_secrets_file_is_the_key_the_routes_check(tmp_path: Any) -> None:
    (tmp_path / "items-api-key").write_text("from-the-file\n")
    assert status_of("POST", "/items", body=b"{}", headers={"X-API-Key": "s3cret"}) == 401
    assert status_of("POST", "/items", body=b"{}", headers={"X-API-Key": "from-the-file"}) == 201


def test_routes_that_need_a_key_cannot_be_declared_without_one() -> None:
    with pytest.raises(ValueError, match="no key"):
        Api("t", "1", "", [Route("PUT", "/x", _echo, "change", needs_key=True)])


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_a_browsers_form_from_another_site_is_refused_before_any_route(content_type: str | None) -> None:
    headers = {"Origin": "https://evil.example", "X-API-Key": "s3cret"}
    if content_type:
        headers["Content-Type"] = content_type
    assert status_of("POST", "/items", body=b"{}", headers=headers) == 403
    assert status_of("POST", "/nope", body=b"{}", headers=headers) == 403


def test_a_browsers_json_request_and_calls_without_origin_pass() -> None:
    assert status_of("POST", "/items", body=b"{}", headers={
        "Origin": "http://127.0.0.1:8080", "Content-Type": "application/json; charset=utf-8", "X-API-Key": "s3cret"}) \
        == 201
    assert status_of("POST", "/items", body=b"{}", headers={"X-API-Key": "s3cret"}) == 201  # a script, a connector
    assert status_of("GET", "/items", headers={"Origin": "https://evil.example"}) == 200  # reads stay as they are


def test_a_body_that_is_not_json_is_400() -> None:
    assert status_of("POST", "/items", body=b"{nope", headers={"X-API-Key": "s3cret"}) == 400


def test_the_openapi_document_lists_every_route_with_its_parameters() -> None:
    doc = jsoncodec.loads(call("GET", "/openapi.json")["body"])
    assert set(doc["paths"]) == {"/items", "/items/{item_id}", "/secrets", "/openapi.json"}
    listed = {p["name"]: p for p in doc["paths"]["/items"]["get"]["parameters"]}
    assert listed["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 10, "default": 5}
    assert doc["paths"]["/items/{item_id}"]["get"]["parameters"][0]["in"] == "path"
    assert doc["paths"]["/items"]["post"]["security"]


def _store_down(_: Request) -> None:
    raise StoreUnavailable("database at sqlite:///x unreachable")


def _store_refuses(_: Request) -> None:
    raise StoreError("no such column")


def test_a_store_that_cannot_be_reached_is_503_and_one_that_refuses_is_500() -> None:
    api = Api("t", "1", "", [Route("GET", "/down", _store_down, "down"), Route("GET", "/refuses", _store_refuses, "r")])
    for path, status in (("/down", 503), ("/refuses", 500)):
        with pytest.raises(StoreError) as caught:
            api.handle(SimpleNamespace(method="GET", path=path, query={}, body=b"", headers={}))
        assert responses.status_of(caught.value) == status
