"""Secrets out of everything the health function shows: URL passwords, secret-named values, known secrets.

Three layers, because a configuration view gathers text from many places: passwords in URLs are
replaced, values under secret-looking keys are masked (ingestor.config.mask: last 4 characters), and
any value registered with the redactor (every file in the secrets folder, see `register_secret_files`)
is replaced wherever it still appears.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ingestor import config, redaction

HIDDEN = "***"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|credential|private[_-]?key|auth)", re.IGNORECASE)
_DESCRIPTIONS = {"configured", "not configured", "default chain", "set", "unset", "missing", "none", "yes", "no"}
_URL_WITH_USER = re.compile(r"\b([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^/\s@]*)@", re.IGNORECASE)


def url(value: str | None) -> str | None:
    """The URL with its password (and any password-like query value) hidden; other parts kept."""
    if not value:
        return value
    hidden = _URL_WITH_USER.sub(lambda m: f"{m[1]}{m[2]}:{HIDDEN}@", value)
    try:
        parts = urlsplit(hidden)
    except ValueError:
        return HIDDEN
    if parts.query:
        query = "&".join(_mask_pair(pair) for pair in parts.query.split("&"))
        hidden = urlunsplit(parts._replace(query=query))
    return hidden


def _mask_pair(pair: str) -> str:
    key, sep, value = pair.partition("=")
    return f"{key}={HIDDEN}" if sep and value and _SECRET_KEY.search(key) else pair


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if lowered == "secrets" or lowered.endswith(("_file", "_set", "_configured", "_source", "_names")):
        return False  # names of secrets, and whether one is set, are not secret
    return bool(_SECRET_KEY.search(key))


def scrub(value: Any, key: str = "") -> Any:
    """A copy of a JSON-like value safe to show."""
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, key) for v in value]
    if isinstance(value, str):
        if key and is_secret_key(key) and value and "*" not in value and value.lower() not in _DESCRIPTIONS:
            return config.mask(value)
        return redaction.redact(url(value) or "")
    return value


def register_secret_files() -> None:
    """Register every secret in the secrets folder with the redactor, whoever it is meant for."""
    folder = config.secrets_dir()
    try:
        names = [p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return
    for name in names:
        config.secret(name)
