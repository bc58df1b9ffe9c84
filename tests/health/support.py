"""Helpers of the health tests: the stack, calls to the health function, its answers checked against OpenAPI."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema

from tests.support.http import Reply, call
from tests.support.runtime import LocalRuntime

STACK = Path(__file__).resolve().parent / "stack.health.yml"


def get(base: str, path: str = "", timeout: float = 30) -> Reply:
    return call("GET", f"{base}/{path.lstrip('/')}", timeout=timeout)


def health_url(runtime: LocalRuntime) -> str:
    return f"{runtime.gateway}/function/health"


def status(base: str) -> dict[str, Any]:
    reply = get(base, "/")
    assert reply.status == 200, reply.body[:500]
    return reply.json()


def component(body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in body["components"] if c["name"] == name]
    assert found, f"no component {name}: {[c['name'] for c in body['components']]}"
    return found[0]


def _json_schema(schema: Any, schemas: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes a null type, $refs are inlined."""
    if isinstance(schema, list):
        return [_json_schema(s, schemas) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _json_schema(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    out = {k: _json_schema(v, schemas) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable"):
        out["type"] = [schema["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if out.get("format") == "date-time":
        out.pop("format")
        out["pattern"] = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"
    return out


def check_schema(openapi: dict[str, Any], path: str, body: Any) -> None:
    """The answer validates against the response schema the function's own OpenAPI document declares."""
    declared = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(body, _json_schema(copy.deepcopy(declared), openapi["components"]["schemas"]))
