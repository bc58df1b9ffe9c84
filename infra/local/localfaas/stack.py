"""Reading stack.yml as faas-cli does: ${VAR} / ${VAR:-default} substitution, then YAML."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from ha_connector.catalog import Annotated
from ingestor import config, signedcalls, subjects

LANGUAGE = "python3-ingestor"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class StackError(ValueError):
    """stack.yml is invalid; the message names the function and field."""


@dataclass(frozen=True)
class FunctionSpec(Annotated):
    name: str
    handler: Path
    image: str
    environment: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    limits: dict[str, str] = field(default_factory=dict)
    requests: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stack:
    path: Path
    gateway: str
    copy: list[Path]
    functions: dict[str, FunctionSpec]


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Expand ${VAR} and ${VAR:-default} like faas-cli (envsubst); unset without default -> ""."""
    return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), text)


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackError(f"{where} must be a mapping")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _function(name: str, raw: Any, root: Path) -> FunctionSpec:
    if not _NAME.match(name):
        raise StackError(f"function name {name!r} must be lowercase letters, digits and '-'")
    if not isinstance(raw, dict):
        raise StackError(f"{name}: must be a mapping")
    if raw.get("lang") != LANGUAGE:
        raise StackError(f"{name}: lang must be {LANGUAGE} to run locally, got {raw.get('lang')!r}")
    handler = (root / str(raw.get("handler", ""))).resolve()
    if not (handler / "handler.py").is_file():
        raise StackError(f"{name}: handler {handler} has no handler.py")
    secrets = raw.get("secrets") or []
    if not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets):
        raise StackError(f"{name}: secrets must be a list of names")
    spec = FunctionSpec(
        name=name,
        handler=handler,
        image=str(raw.get("image", name)),
        environment=_strings(raw.get("environment"), f"{name}.environment"),
        annotations=_strings(raw.get("annotations"), f"{name}.annotations"),
        labels=_strings(raw.get("labels"), f"{name}.labels"),
        secrets=list(secrets),
        limits=_strings(raw.get("limits"), f"{name}.limits"),
        requests=_strings(raw.get("requests"), f"{name}.requests"),
    )
    try:
        signed_only = config.boolean(signedcalls.REQUIRED, spec.environment.get(signedcalls.REQUIRED) or "false")
    except config.ConfigError as exc:
        raise StackError(f"{name}: {exc}") from None
    if signed_only and signedcalls.SECRET not in spec.secrets:
        raise StackError(f"{name}: {signedcalls.REQUIRED} needs the {signedcalls.SECRET} secret in its secrets:")
    if subjects.CRON in spec.topics:
        if spec.topics != [subjects.CRON]:
            raise StackError(f"{name}: a cron function listens to no other topic")
        if not spec.schedule or not croniter.is_valid(spec.schedule) or len(spec.schedule.split()) != 5:
            raise StackError(f"{name}: schedule must be a 5-field cron expression, got {spec.schedule!r}")
    return spec


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Stack:
    path = Path(path).resolve()
    try:
        doc = yaml.safe_load(substitute(path.read_text(encoding="utf-8"), os.environ if env is None else env))
    except (OSError, yaml.YAMLError) as exc:
        raise StackError(f"cannot read {path}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("functions"), dict):
        raise StackError(f"{path}: no functions: mapping")
    root = path.parent
    copy = [(root / p).resolve() for p in (doc.get("configuration") or {}).get("copy") or []]
    functions = {name: _function(name, raw, root) for name, raw in doc["functions"].items()}
    return Stack(path, str((doc.get("provider") or {}).get("gateway", "")), copy, functions)
