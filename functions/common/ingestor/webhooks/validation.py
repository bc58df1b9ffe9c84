"""Checking registration bodies by hand (no pydantic here): every refusal is a 400 naming the field."""

from __future__ import annotations

import re
import secrets
from typing import Any

from ingestor.errors import Invalid
from ingestor.webhooks import filters, ssrf

FIELDS = ("url", "name", "secret", "filters", "enabled")
MAX_NAME = 200
SECRET_MIN, SECRET_MAX = 16, 256
_SECRET = re.compile(r"^[\x21-\x7e]+$")


def _bad(message: str, code: str = "invalid_field") -> Invalid:
    return Invalid(message, code=code)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("body: expected a JSON object", "bad_body")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _bad(f"{unknown[0]}: unknown field; expected {', '.join(FIELDS)}", "unknown_field")
    return body


def url(value: Any, allow_private: bool) -> str:
    try:
        return ssrf.check(value, allow_private)
    except ssrf.UnsafeTarget as exc:
        raise _bad(f"url: {exc}", "url_refused") from None


def name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME \
            or any(ord(c) < 32 for c in value):
        raise _bad(f"name: expected 1 to {MAX_NAME} printable characters")
    return value.strip()


def secret(value: Any) -> str:
    if not isinstance(value, str) or not SECRET_MIN <= len(value) <= SECRET_MAX or not _SECRET.match(value):
        raise _bad(f"secret: expected {SECRET_MIN} to {SECRET_MAX} printable ASCII characters without spaces",
                   "invalid_secret")
    return value


def enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad("enabled: expected true or false")
    return value


def checked_filters(value: Any) -> dict[str, list[str]]:
    try:
        return filters.clean(value)
    except filters.FilterError as exc:
        raise _bad(str(exc), "invalid_filters") from None


def generated_secret() -> str:
    return secrets.token_urlsafe(32)


def registration(body: Any, allow_private: bool) -> tuple[dict[str, Any], bool]:
    """Values for a new (or wholly replaced, PUT) webhook, and whether the secret was generated."""
    body = _object(body)
    for required in ("url", "filters"):
        if required not in body:
            raise _bad(f"{required}: required", "missing_field")
    values = _common(body, allow_private)
    values.setdefault("name", ssrf.parse(values["url"]).hostname or values["url"])
    values.setdefault("enabled", True)
    generated = "secret" not in values
    if generated:
        values["secret"] = generated_secret()
    return values, generated


def changes(body: Any, allow_private: bool) -> dict[str, Any]:
    """Values a PATCH changes; at least one."""
    values = _common(_object(body), allow_private)
    if not values:
        raise _bad(f"body: nothing to update; give one of {', '.join(FIELDS)}", "empty_update")
    return values


def _common(body: dict[str, Any], allow_private: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    checks = {"name": name, "secret": secret, "enabled": enabled, "filters": checked_filters}
    for key, check in checks.items():
        if key in body and body[key] is not None:
            values[key] = check(body[key])
        elif key in body and key != "name" and key != "secret":
            raise _bad(f"{key}: may not be null")
    if "url" in body:
        values["url"] = url(body["url"], allow_private)
    return values
