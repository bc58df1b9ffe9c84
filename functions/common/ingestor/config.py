"""Configuration from environment variables and secrets from the OpenFaaS secrets folder.

Values are read at call time so tests and the local runtime can set them per process.
A bad value raises ConfigError naming the variable, never a bare ValueError deep inside.
"""

from __future__ import annotations

import os
from pathlib import Path

from ingestor import redaction

DEFAULT_SECRETS_DIR = "/var/openfaas/secrets"
EXIT_CONFIG = 78
"""EX_CONFIG: how a long-running process (the bridge) says its configuration is wrong, so that whoever
supervises it does not restart it into the same mistake."""


class ConfigError(ValueError):
    """A configuration value is missing or malformed."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    return default if raw is None else boolean(name, raw)


def boolean(name: str, raw: str) -> bool:
    """`raw` as the value of `name` (true/false, yes/no, on/off, 1/0), else ConfigError naming it."""
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    """Comma-separated list; blanks dropped."""
    raw = env_str(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def secrets_dir() -> Path:
    return Path(env_str("SECRETS_DIR", DEFAULT_SECRETS_DIR))


def secret(name: str, env_fallback: str | None = None) -> str | None:
    """A secret from `<SECRETS_DIR>/<name>`, else from the env var `env_fallback`.

    Every value returned is registered with the log redactor, so it can never be logged.
    """
    path = secrets_dir() / name
    value: str | None = None
    if path.is_file():
        value = path.read_text(encoding="utf-8").strip() or None
    elif env_fallback:
        value = env_str(env_fallback)
    if value:
        redaction.register(value)
    return value


def mask(value: str | None) -> str | None:
    """Show a secret as the seeds specify: masked but for its last 4 characters."""
    if not value:
        return value
    return "*" * max(len(value) - 4, 4) + value[-4:] if len(value) > 4 else "****"
