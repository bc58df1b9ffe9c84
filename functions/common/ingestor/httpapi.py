"""Declared HTTP routes for the API functions: one table gives dispatch, parameter checks and OpenAPI.

A function lists its `Route`s; `Api.handle(event)` matches the path, parses and checks every declared
parameter (a bad value is Invalid naming it, never a 500 deep inside), checks the API key of routes
that need one (ingestor.apikeys: with none configured, a call that may change data is refused, never let
through), and calls the route's handler with a `Request`. What a handler raises (ingestor.errors: a store
that cannot be reached is Unavailable) is answered by the template, through ingestor.responses.status_of.
`GET /openapi.json` is served from the same declarations, so the document cannot drift from what the code accepts.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ingestor import jsoncodec
from ingestor.apikeys import ApiKey
from ingestor.errors import Invalid, Unavailable
from ingestor.responses import HTTPError, json_response
from ingestor.store.timerange import parse_time
from ingestor.timeutil import format_timestamp

log = logging.getLogger(__name__)
Kind = Literal["string", "integer", "number", "boolean", "time"]
MAX_STRING = 256
TIME_FORMS = "ISO 8601 with a zone, or relative: -1h, -30m, -7d, now"
ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "details": {}}}},
}


@dataclass(frozen=True)
class Param:
    name: str
    description: str = ""
    kind: Kind = "string"
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    max_length: int = MAX_STRING
    check: Callable[[str], object] | None = None  # a string's own rule: raises ValueError saying what is expected

    def parse(self, raw: str) -> Any:
        """The typed value, or Invalid naming the parameter and what it accepts."""
        if "\x00" in raw:
            raise self._bad(raw, "no NUL characters")
        if self.kind == "string":
            if len(raw) > self.max_length:
                raise self._bad(raw[:40] + "...", f"at most {self.max_length} characters")
            if self.enum is not None and raw not in self.enum:
                raise self._bad(raw, "one of " + ", ".join(self.enum))
            if self.check is not None:
                try:
                    self.check(raw)
                except ValueError as exc:
                    raise self._bad(raw if len(raw) <= 40 else raw[:40] + "...", str(exc)) from None
            return raw
        if self.kind == "time":
            try:
                return parse_time(raw)
            except (ValueError, OverflowError) as exc:
                raise self._bad(raw, str(exc)) from None
        if self.kind == "boolean":
            if raw.lower() in ("1", "true", "yes"):
                return True
            if raw.lower() in ("0", "false", "no"):
                return False
            raise self._bad(raw, "true or false")
        try:
            value: float = int(raw) if self.kind == "integer" else float(raw)
        except ValueError:
            raise self._bad(raw, "an integer" if self.kind == "integer" else "a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise self._bad(raw, "a finite number")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise self._bad(raw, f"between {self.minimum} and {self.maximum}")
        return value

    def _bad(self, raw: str, accepted: str) -> Invalid:
        return Invalid(f"{self.name}: expected {accepted}, got {raw!r}", code="bad_parameter")

    def schema(self) -> dict[str, Any]:
        if self.kind == "time":
            out: dict[str, Any] = {"type": "string", "description": TIME_FORMS}
        else:
            out = {"type": self.kind}
        if self.kind == "string":
            out["maxLength"] = self.max_length
            if self.enum is not None:
                out["enum"] = list(self.enum)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.default is not None:
            out["default"] = self.default
        return out


@dataclass
class Request:
    """What a route handler sees: typed parameters (path and query), the parsed JSON body, headers."""

    params: dict[str, Any]
    body: Any
    headers: Any
    event: Any


Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "/events/{event_id}"; a path parameter matches one segment
    handler: Handler
    summary: str
    params: tuple[Param, ...] = ()
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    body: dict[str, Any] | None = None  # JSON schema of the request body, when it takes one
    status: int = 200
    tag: str | None = None
    needs_key: bool = False
    description: str = ""

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", self.path) + "$")


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _refuse_cross_site(event: Any) -> None:
    """A browser's request that may change data (it carries Origin) must be application/json. A page on another
    site can make a browser send a form or text/plain POST here with no preflight, and thus with no consent from
    this server; a JSON one needs a CORS preflight, which no gateway of ours allows. Server-to-server calls
    (connectors, scripts, tests) send no Origin and are not concerned."""
    if event.method.upper() in SAFE_METHODS or not event.headers.get("Origin"):
        return
    media = (event.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise HTTPError(403, "cross_site_form", "a browser's request that changes data must be sent as "
                                                "application/json (a form from another site could send this one)")


class Api:
    """Routes plus the document that describes them; `key` guards the routes declared `needs_key`."""

    def __init__(self, title: str, version: str, description: str, routes: list[Route],
                 components: dict[str, Any] | None = None, key: ApiKey | None = None) -> None:
        if key is None and any(route.needs_key for route in routes):
            raise ValueError(f"{title}: routes that need a key, and no key")
        self.title, self.version, self.description = title, version, description
        self.components = components or {}
        self.key = key
        self.routes = [*routes, Route("GET", "/openapi.json", lambda _: self.openapi(), "This document", tag="meta")]
        self._compiled = [(route, route.pattern()) for route in self.routes]

    def start(self) -> None:
        """Say once, when the function starts, that its key is missing (a handler's `start`)."""
        if self.key is not None and not self.key.value():
            log.warning("API key not configured: the calls that need it are refused (503) until it is",
                        extra={"secret": self.key.secret})

    def keyed_calls(self) -> tuple[tuple[str, str], ...]:
        """(method, path) of the routes a person calls with the API key, not the connectors: a function that
        takes only signed calls lets these through to the key check (its handler's KEYED_CALLS)."""
        return tuple((r.method, r.path) for r in self.routes if r.needs_key and not r.path_params)

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        """The answer to one request (a python3-http event); usable as a handler's `handle` as it is."""
        _refuse_cross_site(event)
        path = (event.path or "/").rstrip("/") or "/"
        allowed = []
        for route, pattern in self._compiled:
            match = pattern.match(path)
            if match is None:
                continue
            if route.method != event.method.upper():
                allowed.append(route.method)
                continue
            return self._call(route, match.groupdict(), event)
        if allowed:
            raise HTTPError(405, "method_not_allowed", f"{event.method} {path}: use {', '.join(sorted(set(allowed)))}")
        raise HTTPError(404, "not_found", f"no route {event.method} {path}; see GET /openapi.json")

    def _call(self, route: Route, path_values: dict[str, str], event: Any) -> dict[str, Any]:
        if route.needs_key:
            self._check_key(event.method.upper(), event.headers)
        params: dict[str, Any] = {}
        for param in route.params:
            raw = path_values.get(param.name) if param.name in path_values else event.query.get(param.name)
            if raw is None or (raw == "" and param.name not in path_values):
                if param.required:
                    raise Invalid(f"{param.name}: required", code="missing_parameter")
                params[param.name] = param.default if param.kind != "time" or param.default is None \
                    else param.parse(param.default)
            else:
                params[param.name] = param.parse(raw)
        body = None
        if route.body is not None:
            try:
                body = jsoncodec.loads(event.body or b"")
            except ValueError:
                raise Invalid("body: expected a JSON document", code="bad_json") from None
        result = route.handler(Request(params, body, event.headers, event))
        if isinstance(result, dict) and "statusCode" in result:
            return result
        return json_response(result, route.status)

    def _check_key(self, method: str, headers: Any) -> None:
        """Fail closed: with no key configured every route behind it is refused (503), reads too: what a route
        guards to read (a webhook's URL may carry a token, as a Home Assistant webhook id does) is as secret as
        what it guards to change."""
        assert self.key is not None  # __init__ refuses routes that need a key without one
        expected = self.key.value()
        if not expected:
            raise Unavailable(f"this call needs an API key, but the {self.key.secret} secret is not configured: "
                              f"create it (`make run` generates .secrets/{self.key.secret}; on OpenFaaS "
                              f"`make secrets`) and send it as X-API-Key", code="api_key_not_configured")
        given = headers.get("X-API-Key") or ""
        bearer = headers.get("Authorization") or ""
        if not given and bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPError(401, "unauthorized", "a valid API key is required (X-API-Key or Authorization: Bearer)")

    def openapi(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
            operation: dict[str, Any] = {
                "summary": route.summary,
                "operationId": route.method.lower() + re.sub(r"\W+", "_", route.path).rstrip("_"),
                "parameters": [self._parameter(p, route) for p in route.params],
                "responses": {
                    str(route.status): {"description": "OK", "content": _json_content(route.response)},
                    "default": {"description": "Error", "content": _json_content(ERROR_SCHEMA)},
                },
            }
            if route.description:
                operation["description"] = route.description
            if route.tag:
                operation["tags"] = [route.tag]
            if route.body is not None:
                operation["requestBody"] = {"required": True, "content": _json_content(route.body)}
            if route.needs_key:
                operation["security"] = [{"apiKey": []}, {"bearer": []}]
            paths.setdefault(route.path, {})[route.method.lower()] = operation
        components: dict[str, Any] = {"schemas": {"Error": ERROR_SCHEMA, **self.components}}
        if any(route.needs_key for route in self.routes):
            components["securitySchemes"] = {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                             "bearer": {"type": "http", "scheme": "bearer"}}
        return {"openapi": "3.0.3", "info": {"title": self.title, "version": self.version,
                                             "description": self.description},
                "paths": paths, "components": components}

    @staticmethod
    def _parameter(param: Param, route: Route) -> dict[str, Any]:
        where = "path" if param.name in route.path_params else "query"
        schema = param.schema()
        if where == "query" and not param.required and "enum" in schema:
            schema["enum"] = [*schema["enum"], ""]  # an empty value is the default, as for every optional one
        return {"name": param.name, "in": where, "required": where == "path" or param.required,
                "description": param.description, "schema": schema}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def iso(value: dt.datetime | None) -> str | None:
    """Response timestamps in the form events carry them: UTC, microseconds, Z."""
    return None if value is None else format_timestamp(value)
