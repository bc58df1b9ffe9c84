"""HTTP response shapes of the python3-http contract; errors are {"error": {"code", "message"}}.

This is the edge: `status_of` is the one place a domain error (ingestor.errors) becomes a status code.
"""

from __future__ import annotations

from typing import Any

from ingestor import errors, jsoncodec, redaction

JSON = {"Content-Type": "application/json"}

STATUS: tuple[tuple[type[errors.Problem], int], ...] = (
    (errors.Unavailable, 503), (errors.Invalid, 400), (errors.NotFound, 404), (errors.Conflict, 409),
    (errors.TooLarge, 413), (errors.Refused, 422),
)


class HTTPError(Exception):
    """What only the edge says in HTTP's own terms: no such route (404), wrong method (405), not allowed (401)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def status_of(exc: errors.Problem | HTTPError) -> int:
    """The status a failure is answered with; any other domain error (a store's refusal) is a 500."""
    if isinstance(exc, HTTPError):
        return exc.status
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "body": jsoncodec.dumps(body), "headers": {**JSON, **(headers or {})}}


def error_response(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": redaction.redact(message)}
    if details is not None:
        error["details"] = details
    return json_response({"error": error}, status)


def from_error(exc: errors.Problem | HTTPError) -> dict[str, Any]:
    return error_response(status_of(exc), exc.code, exc.message, exc.details)
