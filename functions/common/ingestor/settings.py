"""One way to declare a part's configuration: a frozen dataclass whose fields say where each value comes from.

    @dataclass(frozen=True)
    class Settings:
        timeout_s: float = setting("WEBHOOK_TIMEOUT_S", 5.0, minimum=0.1)
        api_key: str | None = secret("openweathermap-api-key", env="OPENWEATHERMAP_API_KEY")

    current = load(Settings)      # read and checked once; a bad value is a ConfigError naming its variable
    shown = describe(current)     # every field, secrets masked to their last 4 characters

A field's type (its annotation) says how its text is read: int, float, bool (true/false, yes/no, on/off, 1/0),
str, a comma-separated list or tuple of str, Path; `| None` lets it be unset. A class may define `check(self)`
for rules across fields (raising ConfigError). Fields without `setting`/`secret` are given to `load` or keep
their default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ingestor import config
from ingestor.config import ConfigError

T = TypeVar("T")
_ENV = "ingestor.env"
_SECRET = "ingestor.secret"


def setting(env: str, default: Any = None, *, minimum: float | None = None, maximum: float | None = None,
            clamp: bool = False, choices: tuple[str, ...] | None = None,
            parse: Callable[[str], Any] | None = None) -> Any:
    """A value from the environment variable `env` (`default` when it is unset or empty). A number outside
    [minimum, maximum] is a ConfigError, or with `clamp` taken as the nearest bound."""
    return dataclasses.field(default=default, metadata={
        _ENV: env, "minimum": minimum, "maximum": maximum, "clamp": clamp, "choices": choices, "parse": parse})


def secret(name: str, env: str | None = None) -> Any:
    """A secret from the secrets folder (ingestor.config.secret), else the variable `env`; never shown whole."""
    return dataclasses.field(default=None, repr=False, metadata={_SECRET: name, _ENV: env})


def load(cls: type[T], **given: Any) -> T:
    """`cls` with every declared field read from the environment (or the secrets folder) and checked."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in given or not (_ENV in field.metadata or _SECRET in field.metadata):
            continue
        if _SECRET in field.metadata:
            values[field.name] = config.secret(field.metadata[_SECRET], field.metadata[_ENV])
            continue
        raw = config.env_str(field.metadata[_ENV])
        if raw is not None:
            values[field.name] = _checked(field, _parse(field, hints[field.name], raw))
    made = cls(**values, **given)
    check = getattr(made, "check", None)
    if callable(check):
        check()
    return made


def describe(settings: Any) -> dict[str, Any]:
    """Every field as JSON shows it; secrets masked (config.mask), sets sorted, paths as text."""
    shown: dict[str, Any] = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        shown[field.name] = config.mask(value) if _SECRET in field.metadata else _plain(value)
    return shown


def override(current: T, values: dict[str, Any]) -> T:
    """`current` with the fields whose variables `values` names set as if the environment said so (numbers and
    lists given as JSON are taken as their text); an unknown variable or a bad value is a ConfigError naming it."""
    hints = typing.get_type_hints(type(current))
    by_env = {f.metadata[_ENV]: f for f in dataclasses.fields(current)  # type: ignore[arg-type]
              if f.metadata.get(_ENV) and _SECRET not in f.metadata}
    changed: dict[str, Any] = {}
    for env, value in values.items():
        field = by_env.get(env)
        if field is None:
            raise ConfigError(f"{env}: not a setting here; expected one of {', '.join(sorted(by_env))}")
        if isinstance(value, bool) or not isinstance(value, str | int | float | list):
            raise ConfigError(f"{env}: expected a number, a string or a list of strings, got {value!r}")
        raw = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        changed[field.name] = _checked(field, _parse(field, hints[field.name], raw))
    made = dataclasses.replace(current, **changed)  # type: ignore[type-var]
    check = getattr(made, "check", None)
    if callable(check):
        check()
    return made


def variable(cls: type, name: str) -> str:
    """The environment variable a field is read from, for messages that name it."""
    return str(next(f for f in dataclasses.fields(cls) if f.name == name).metadata[_ENV])


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return describe(value)
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _parse(field: dataclasses.Field[Any], kind: Any, raw: str) -> Any:
    name = field.metadata[_ENV]
    if field.metadata.get("parse"):
        try:
            return field.metadata["parse"](raw)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    kind = next(k for k in options if k is not type(None))
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        items = [item.strip() for item in raw.split(",") if item.strip()]
        return items if origin is list else tuple(items)
    if kind is bool:
        return config.boolean(name, raw)
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if kind is Path:
        return Path(raw)
    return raw


def _checked(field: dataclasses.Field[Any], value: Any) -> Any:
    name, meta = field.metadata[_ENV], field.metadata
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])}, got {value!r}")
    low, high = meta.get("minimum"), meta.get("maximum")
    if meta.get("clamp") and isinstance(value, int | float):
        return min(max(value, low if low is not None else value), high if high is not None else value)
    if isinstance(value, int | float) and not isinstance(value, bool) and (
            (low is not None and not value >= low) or (high is not None and not value <= high)):
        bounds = f"between {low} and {high}" if low is not None and high is not None else \
            f"at least {low}" if low is not None else f"at most {high}"
        raise ConfigError(f"{name} must be {bounds}, got {value}")
    return value
