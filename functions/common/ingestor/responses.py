"""HTTP response shapes of the python3-http contract; errors are {"error": {"code", "message"}}."""

from __future__ import annotations

from typing import Any

from ingestor import jsoncodec, redaction

JSON = {"Content-Type": "application/json"}


class HTTPError(Exception):
    """Raised at a boundary; the template turns it into the error response."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class BadRequest(HTTPError):
    def __init__(self, message: str, code: str = "bad_request", details: Any = None, status: int = 400) -> None:
        super().__init__(status, code, message, details)


class Unavailable(HTTPError):
    """A dependency (NATS, a store) is down: 503 tells the connector to redeliver later."""

    def __init__(self, message: str, code: str = "unavailable") -> None:
        super().__init__(503, code, message)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "body": jsoncodec.dumps(body), "headers": {**JSON, **(headers or {})}}


def error_response(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": redaction.redact(message)}
    if details is not None:
        error["details"] = details
    return json_response({"error": error}, status)


def from_error(exc: HTTPError) -> dict[str, Any]:
    return error_response(exc.status, exc.code, exc.message, exc.details)
