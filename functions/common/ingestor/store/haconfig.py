"""The options of Home Assistant's `influxdb:` integration, read from the block a user already has.

INFLUXDB_HA_CONFIG holds that YAML (pasted: the `influxdb:` block or just its content) or the path of a
file with it (HA's configuration.yaml itself will do: HA's `!include` and `!env_var` tags are followed,
`!secret` values are never read). Keys and values mean what they mean to HA 2024.3 and are checked as
strictly: a wrong value or an unknown key is a ConfigError naming the key. Connection keys (host,
password, token, ...) are known but unused: HA Ingestor connects with EVENT_STORE_URL.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingestor import config
from ingestor.config import ConfigError

logger = logging.getLogger(__name__)

SETTING = "INFLUXDB_HA_CONFIG"
MEASUREMENT_ATTRS = ("unit_of_measurement", "domain__device_class", "entity_id")
PRECISIONS = ("ms", "s", "us", "ns")
CONNECTION_KEYS = ("api_version", "host", "port", "path", "ssl", "verify_ssl", "ssl_ca_cert", "username",
                   "password", "database", "token", "organization", "bucket", "max_retries")
# The names HA Ingestor's own points use: HA's points may not take them, or its reads would see them as events.
RESERVED_MEASUREMENTS = ("aggregates_hourly", "aggregates_daily")
RESERVED_TAG = "event_type"
# HA's entity id: <domain>.<object id>, both slugs (lowercase letters, digits, single underscores inside).
_SLUG = r"(?!.+__)(?!_)[\da-z_]+(?<!_)"
_ENTITY_ID = re.compile(rf"^{_SLUG}\.{_SLUG}$")


@dataclass(frozen=True)
class EntityOptions:
    """One `component_config*` entry."""

    override_measurement: str | None = None
    ignore_attributes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Filter:
    domains: tuple[str, ...] = ()
    entity_globs: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()


@dataclass(frozen=True)
class HaInfluxOptions:
    """The `influxdb:` block's layout options, validated; the defaults are HA's."""

    include: Filter = Filter()
    exclude: Filter = Filter()
    tags: dict[str, str] = field(default_factory=dict)
    tags_attributes: tuple[str, ...] = ()
    default_measurement: str | None = None
    override_measurement: str | None = None
    measurement_attr: str = "unit_of_measurement"
    ignore_attributes: tuple[str, ...] = ()
    component_config: dict[str, EntityOptions] = field(default_factory=dict)
    component_config_domain: dict[str, EntityOptions] = field(default_factory=dict)
    component_config_glob: dict[str, EntityOptions] = field(default_factory=dict)
    precision: str | None = None
    api_version: str | None = None  # the client HA wrote with, when the block says ("1" or "2")


# --- YAML as HA reads it -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tagged:
    """A value behind one of HA's YAML tags, resolved only if it is inside the `influxdb:` block."""

    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    pass


def _tagged(loader: _Loader, suffix: str, node: yaml.Node) -> _Tagged:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return _Tagged(suffix, value)


_Loader.add_multi_constructor("!", _tagged)


def _load_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader: HA's tags become inert values
    except yaml.YAMLError as exc:
        raise ConfigError(f"{SETTING}: {origin} is not valid YAML: {exc}") from None


def _resolve(value: Any, path: str, folder: Path | None, depth: int = 0) -> Any:
    """HA's tags inside the block: !include (relative to the file), !env_var; !secret is refused."""
    if isinstance(value, dict):
        return {k: _resolve(v, f"{path}.{k}", folder, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, f"{path}[{i}]", folder, depth) for i, v in enumerate(value)]
    if not isinstance(value, _Tagged):
        return value
    if value.tag == "include" and isinstance(value.value, str):
        if folder is None:
            raise ConfigError(f"{path}: !include needs {SETTING} to be a file path (it was pasted YAML)")
        if depth > 8:
            raise ConfigError(f"{path}: !include nested too deeply")
        target = folder / value.value
        try:
            text = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read !include {value.value}: {exc.strerror}") from None
        return _resolve(_load_yaml(text, str(target)), path, target.parent, depth + 1)
    if value.tag == "env_var":
        name, _, default = str(value.value).partition(" ")
        found = os.environ.get(name, default or None)
        if found is None:
            raise ConfigError(f"{path}: !env_var {name} is not set")
        return found
    if value.tag == "secret":
        raise ConfigError(f"{path}: !secret values are not read by HA Ingestor; give this option its value")
    raise ConfigError(f"{path}: the YAML tag !{value.tag} is not supported here")


def read_block(setting: str) -> tuple[Any, str, Path | None]:
    """(the `influxdb:` block, where it came from, the folder its !include paths are relative to)."""
    text = setting.strip()
    path = Path(text) if "\n" not in text and ": " not in text and not text.startswith("{") else None
    if path is not None and path.is_file():
        loaded = _load_yaml(path.read_text(encoding="utf-8"), str(path))
        origin, folder = str(path), path.parent
    elif path is not None and ("/" in text or text.endswith((".yaml", ".yml"))):
        raise ConfigError(f"{SETTING}: {text} is not a file that can be read")
    else:
        loaded, origin, folder = _load_yaml(setting, "the pasted YAML"), "the pasted YAML", None
    if isinstance(loaded, dict) and "influxdb" in loaded:
        return loaded["influxdb"], origin, folder
    if isinstance(loaded, dict | _Tagged) or loaded is None:
        return loaded, origin, folder
    raise ConfigError(f"{SETTING}: expected the influxdb: block (YAML) or the path of a file with it")


# --- validation, value by value as HA's schema does it ------------------------------------------------


def _string(value: Any, path: str) -> str:
    """Like HA's cv.string: numbers and booleans become their text; None, lists and mappings are refused."""
    if value is None:
        raise ConfigError(f"{path}: expected a string, got nothing")
    if isinstance(value, list | dict):
        raise ConfigError(f"{path}: expected a string, got a {'list' if isinstance(value, list) else 'mapping'}")
    return value if isinstance(value, str) else str(value)


def _strings(value: Any, path: str) -> tuple[str, ...]:
    """A string or a list of them (HA's ensure_list)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_string(v, f"{path}[{i}]") for i, v in enumerate(items))


def _entity_id(value: Any, path: str) -> str:
    text = _string(value, path).lower()
    if not _ENTITY_ID.match(text):
        raise ConfigError(f"{path}: {value!r} is not an entity id (domain.object_id, lowercase)")
    return text


def _entity_ids(value: Any, path: str) -> tuple[str, ...]:
    """A list, or one comma-separated string, of entity ids (lowercased, as HA does)."""
    if value is None:
        raise ConfigError(f"{path}: expected entity ids, got nothing")
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list):
        items = [items]
    return tuple(_entity_id(v, f"{path}[{i}]") for i, v in enumerate(items))


def _mapping(value: Any, path: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return value


def _known(block: dict[Any, Any], keys: tuple[str, ...], path: str) -> None:
    unknown = [str(k) for k in block if k not in keys]
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                          f"HA's influxdb integration knows {', '.join(keys)}")


def _filter(value: Any, path: str) -> Filter:
    block = _mapping(value, path)
    _known(block, ("domains", "entity_globs", "entities"), path)
    entities = block.get("entities")
    return Filter(_strings(block.get("domains"), f"{path}.domains"),
                  _strings(block.get("entity_globs"), f"{path}.entity_globs"),
                  () if entities is None and "entities" not in block else _entity_ids(entities, f"{path}.entities"))


def _measurement_name(value: Any, path: str) -> str:
    name = _string(value, path)
    if name in RESERVED_MEASUREMENTS:
        raise ConfigError(f"{path}: {name!r} is a measurement of HA Ingestor's own; choose another name")
    return name


def _entity_options(value: Any, path: str) -> EntityOptions:
    block = _mapping(value, path)
    _known(block, ("override_measurement", "ignore_attributes"), path)
    override = block.get("override_measurement")
    ignore = block.get("ignore_attributes")
    return EntityOptions(
        None if override is None and "override_measurement" not in block
        else _measurement_name(override, f"{path}.override_measurement"),
        None if "ignore_attributes" not in block else _strings(ignore, f"{path}.ignore_attributes"))


def _component_config(value: Any, path: str, key: Any) -> dict[str, EntityOptions]:
    return {key(k, f"{path}[{k!r}]"): _entity_options(v, f"{path}.{k}") for k, v in _mapping(value, path).items()}


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    text = str(value)
    if text not in choices:
        raise ConfigError(f"{path}: {value!r} is not one of {', '.join(choices)}")
    return text


LAYOUT_KEYS = ("include", "exclude", "tags", "tags_attributes", "default_measurement", "override_measurement",
               "measurement_attr", "ignore_attributes", "component_config", "component_config_domain",
               "component_config_glob", "precision")


def parse(block: Any, path: str = "influxdb") -> HaInfluxOptions:
    """The options of one `influxdb:` block (a mapping, or None for HA's defaults)."""
    block = _mapping(block, path)
    _known(block, LAYOUT_KEYS + CONNECTION_KEYS, path)
    tags = {_string(k, f"{path}.tags"): _string(v, f"{path}.tags.{k}") for k, v in
            _mapping(block.get("tags"), f"{path}.tags").items()}
    tags_attributes = _strings(block.get("tags_attributes"), f"{path}.tags_attributes")
    for name, where in [(k, "tags") for k in tags] + [(a, "tags_attributes") for a in tags_attributes]:
        if name == RESERVED_TAG:
            raise ConfigError(f"{path}.{where}: the tag {RESERVED_TAG!r} tells HA Ingestor's own points apart; "
                              "HA's points may not carry it")
    measurement_attr = _choice(block.get("measurement_attr"), f"{path}.measurement_attr", MEASUREMENT_ATTRS)
    options = HaInfluxOptions(
        include=_filter(block.get("include"), f"{path}.include"),
        exclude=_filter(block.get("exclude"), f"{path}.exclude"),
        tags=tags,
        tags_attributes=tags_attributes,
        default_measurement=None if block.get("default_measurement") is None
        else _measurement_name(block["default_measurement"], f"{path}.default_measurement"),
        override_measurement=None if block.get("override_measurement") is None
        else _measurement_name(block["override_measurement"], f"{path}.override_measurement"),
        measurement_attr=measurement_attr or "unit_of_measurement",
        ignore_attributes=_strings(block.get("ignore_attributes"), f"{path}.ignore_attributes"),
        component_config=_component_config(block.get("component_config"), f"{path}.component_config", _entity_id),
        component_config_domain=_component_config(block.get("component_config_domain"),
                                                  f"{path}.component_config_domain", _string),
        component_config_glob=_component_config(block.get("component_config_glob"),
                                                f"{path}.component_config_glob", _string),
        precision=_choice(block.get("precision"), f"{path}.precision", PRECISIONS),
        api_version=_choice(block.get("api_version"), f"{path}.api_version", ("1", "2")),
    )
    unused = [k for k in CONNECTION_KEYS if k in block and k != "api_version"]
    if unused:
        logger.info("influxdb: %s: HA's connection settings, not used; HA Ingestor connects with EVENT_STORE_URL",
                    ", ".join(unused))
    return options


def _resolved(block: Any, folder: Path | None) -> Any:
    """The block with HA's tags followed where HA Ingestor reads values: connection keys (a `!secret`
    password, say) are left as they are."""
    if isinstance(block, _Tagged):
        block = _resolve(block, "influxdb", folder)
    if not isinstance(block, dict):
        return block
    return {k: _resolve(v, f"influxdb.{k}", folder) if k in LAYOUT_KEYS or k == "api_version" else v
            for k, v in block.items()}


def load(setting: str | None = None) -> HaInfluxOptions:
    """The options from INFLUXDB_HA_CONFIG (or `setting`); HA's defaults when it is empty."""
    raw = setting if setting is not None else config.env_str(SETTING)
    if not raw or not raw.strip():
        return HaInfluxOptions()
    block, origin, folder = read_block(raw)
    try:
        return parse(_resolved(block, folder))
    except ConfigError as exc:
        raise ConfigError(f"{SETTING} ({origin}): {exc}") from None
