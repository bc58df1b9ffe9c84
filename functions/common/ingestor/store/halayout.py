"""State changes as Home Assistant's own `influxdb:` integration (HA 2024.3) writes them, point for point.

Measurement: the unit of measurement (or what `measurement_attr` names), else `default_measurement`, else
the entity id; overridden by `override_measurement`, per entity by `component_config*`. Tags: `domain`,
`entity_id` (the object id), `tags_attributes`, `tags`. Fields: `value` (the state as a number: on/open/home/
locked/above_horizon 1, their opposites 0) and/or `state` (the state's text), then every attribute as a float,
or as `<name>_str` text (plus `<name>` from its digits when the text ends in a number). The time is the
event's, cut to `precision` the way HA's client library cuts it.

What InfluxDB stores is what HA's writes leave stored: its client libraries escape some characters InfluxDB
then keeps as they are (a backslash doubled by the 1.x client; a newline kept as the two characters `\\n`),
and this module reproduces that, then writes it with the shared line-protocol escaping.

Where HA would lose data this writes it: a non-finite state number is left out of a point that keeps its
other fields (HA's 1.x client sends `value=nan`, and InfluxDB refuses that point whole), and `precision`
us/ns on API v1, which HA's 1.x client refuses at setup, are honoured.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from ingestor.store.haconfig import EntityOptions, Filter, HaInfluxOptions
from ingestor.store.lineprotocol import _float, _string, _tag_value
from ingestor.store.timerange import to_micros
from ingestor.timeutil import parse_timestamp

SKIPPED_STATES = ("unknown", "unavailable", "")
ONE = ("on", "locked", "above_horizon", "open", "home")
ZERO = ("off", "unlocked", "unknown", "below_horizon", "closed", "not_home")
_DIGIT_TAIL = re.compile(r"^[^\.]*\d+\.?\d+[^\.]*$")  # text ending in a number: HA also keeps its digits
_NOT_DECIMAL = re.compile(r"[^\d.]+")
_UNIT_US = {"us": 1, "ms": 1000, "s": 1_000_000}  # a precision's unit; ns (the default) keeps microseconds

# Attribute values HA holds as Python objects JSON has no word for; HA writes their str(), HA Ingestor sees
# them through HA's WebSocket as JSON. (domain, attribute) -> how HA holds it.
_ENUM_LISTS = {("light", "supported_color_modes"): "ColorMode", ("climate", "hvac_modes"): "HVACMode"}
_TUPLES = {("light", name) for name in ("hs_color", "rgb_color", "rgbw_color", "rgbww_color", "xy_color")}
_DATETIMES = {("automation", "last_triggered"), ("script", "last_triggered"),
              ("media_player", "media_position_updated_at")}


def _as_held(domain: str, key: str, value: Any) -> Any:
    """An attribute value as HA holds it in memory (so str() gives HA's text), from its JSON form."""
    if isinstance(value, list) and (domain, key) in _TUPLES:
        return tuple(value)
    enum = _ENUM_LISTS.get((domain, key))
    if enum and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(f"<{enum}.{v.upper()}: {v!r}>" for v in value) + "]"  # the members' reprs
    if (domain, key) in _DATETIMES and isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment if moment.tzinfo is not None else value
    return value


@dataclass(frozen=True)
class HaPoint:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, float | str]
    micros: int


def _matcher(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)) if globs else None


def entity_filter(include: Filter, exclude: Filter) -> Any:
    """Whether HA's include/exclude lets an entity through: explicit entities beat globs, globs beat domains."""
    inc_e, exc_e = set(include.entities), set(exclude.entities)
    inc_d, exc_d = set(include.domains), set(exclude.domains)
    inc_g, exc_g = _matcher(include.entity_globs), _matcher(exclude.entity_globs)
    has_include, has_exclude = bool(inc_e or inc_d or inc_g), bool(exc_e or exc_d or exc_g)

    def domain(entity_id: str) -> str:
        return entity_id.split(".", 1)[0]

    def included(entity_id: str) -> bool:
        return entity_id in inc_e or domain(entity_id) in inc_d or bool(inc_g and inc_g.match(entity_id))

    def excluded(entity_id: str) -> bool:
        return entity_id in exc_e or domain(entity_id) in exc_d or bool(exc_g and exc_g.match(entity_id))

    def with_domains_or_globs(entity_id: str) -> bool:
        if entity_id in inc_e:
            return True
        if entity_id in exc_e:
            return False
        if inc_g and inc_g.match(entity_id):
            return True
        return domain(entity_id) in inc_d and not (exc_g and exc_g.match(entity_id))

    def excludes_by_domain_or_glob(entity_id: str) -> bool:
        if domain(entity_id) in exc_d or (exc_g and exc_g.match(entity_id)):
            return entity_id in inc_e
        return entity_id not in exc_e

    if not has_include:
        return (lambda entity_id: not excluded(entity_id)) if has_exclude else (lambda entity_id: True)
    if not has_exclude:
        return included
    if inc_d or inc_g:
        return with_domains_or_globs
    if exc_d or exc_g:
        return excludes_by_domain_or_glob
    return lambda entity_id: entity_id in inc_e


class EntityConfig:
    """component_config_domain, then every matching component_config_glob in order, then component_config:
    each later one replaces the keys it sets."""

    def __init__(self, options: HaInfluxOptions) -> None:
        self._domain = options.component_config_domain
        self._globs = [(re.compile(fnmatch.translate(g)), o) for g, o in options.component_config_glob.items()]
        self._exact = options.component_config
        self.get = functools.lru_cache(maxsize=16384)(self._get)

    def _get(self, entity_id: str) -> EntityOptions:
        found = [self._domain.get(entity_id.split(".", 1)[0])]
        found += [o for pattern, o in self._globs if pattern.match(entity_id)]
        found.append(self._exact.get(entity_id))
        override, ignore = None, None
        for o in found:
            if o is not None:
                override = o.override_measurement if o.override_measurement is not None else override
                ignore = o.ignore_attributes if o.ignore_attributes is not None else ignore
        return EntityOptions(override, ignore)


def _number(value: Any) -> float | None:
    """float(value) as HA tries it, or None where HA falls back to text."""
    try:
        return float(value)
    except (ValueError, TypeError, OverflowError):
        return None


class HaLayout:
    """Builds HA's point for a state_changed record (None where HA writes none) and its line protocol."""

    def __init__(self, options: HaInfluxOptions, api: str = "1") -> None:
        self.options = options
        self.api = options.api_version or api
        self._admits = entity_filter(options.include, options.exclude)
        self._entity = EntityConfig(options)
        self._ignored = set(options.ignore_attributes)
        self._name = functools.lru_cache(maxsize=65536)(self._escaped_name)  # names repeat point after point

    def point(self, record: dict[str, Any]) -> HaPoint | None:
        state, entity_id = record.get("state"), record.get("entity_id")
        if record.get("event_type") != "state_changed" or not isinstance(state, str) or state in SKIPPED_STATES \
                or not isinstance(entity_id, str) or not self._admits(entity_id):
            return None
        domain, object_id = entity_id.split(".", 1)
        attributes: dict[str, Any] = record.get("attributes") or {}
        fields: dict[str, Any] = {}
        value = _number(state)
        if value is None:
            fields["state"] = state
            value = 1.0 if state in ONE else 0.0 if state in ZERO else None
        if value is not None and math.isfinite(value):
            fields["value"] = value
        measurement, include_unit, include_class = self._measurement(entity_id, domain, attributes)
        tags: dict[str, Any] = {"domain": domain, "entity_id": object_id}
        entity = self._entity.get(entity_id)
        ignored = set(entity.ignore_attributes or ()) | self._ignored
        for key, raw in attributes.items():
            if key in self.options.tags_attributes:
                tags[key] = _as_held(domain, key, raw)
            elif (key != "unit_of_measurement" or include_unit) and (key != "device_class" or include_class) \
                    and key not in ignored:
                self._attribute_fields(fields, key, _as_held(domain, key, raw))
        tags.update(self.options.tags)
        return HaPoint(measurement, {k: str(v) for k, v in tags.items() if v is not None and str(v) != ""},
                       fields, self._micros(record["time_fired"]))

    def _measurement(self, entity_id: str, domain: str, attributes: dict[str, Any]) -> tuple[str, bool, bool]:
        """(measurement, whether unit_of_measurement and device_class stay fields)."""
        override = self._entity.get(entity_id).override_measurement
        if override:
            return override, True, True
        if self.options.override_measurement:
            return self.options.override_measurement, True, True
        attr = self.options.measurement_attr
        include_class = True
        if attr == "entity_id":
            measurement: Any = entity_id
        elif attr == "domain__device_class":
            device_class = attributes.get("device_class")
            measurement = domain if device_class is None else f"{domain}__{device_class}"
            include_class = device_class is None
        else:
            measurement = attributes.get(attr)
        if measurement in (None, ""):
            return self.options.default_measurement or entity_id, True, include_class
        return str(measurement), attr != "unit_of_measurement", include_class

    @staticmethod
    def _attribute_fields(fields: dict[str, Any], key: str, value: Any) -> None:
        if key in fields:
            key = f"{key}_"
        number = _number(value)
        if number is not None:
            fields[key] = number
        else:
            text = str(value)
            fields[f"{key}_str"] = text
            if _DIGIT_TAIL.match(text):
                fields[key] = float(_NOT_DECIMAL.sub("", text))
        if isinstance(fields.get(key), float) and not math.isfinite(fields[key]):
            del fields[key]

    def _micros(self, time_fired: str) -> int:
        """The time HA's client sends, in microseconds: cut to `precision` with the client's own arithmetic
        (the 1.x client divides integers exactly; the 2.x client in floating point, which can land one low)."""
        ns = to_micros(parse_timestamp(time_fired)) * 1000
        unit_us = _UNIT_US.get(self.options.precision or "")
        if unit_us is None:
            return ns // 1000
        divisor = unit_us * 1e3 if self.api == "2" else unit_us * 1000
        return int(ns / divisor) * unit_us

    # --- what InfluxDB stores of HA's write, written losslessly -------------------------------------

    def _stored_name(self, name: str) -> str:
        """A measurement, tag key/value or field key as InfluxDB keeps it after HA's client escaped it."""
        if self.api == "2":
            return name.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
        return name.replace("\\", "\\\\").replace("\n", "\\n")

    def _stored_text(self, text: str) -> str:
        return text if self.api == "2" else text.replace("\n", "\\n")

    def _escaped_name(self, name: str) -> str:
        """Escaped as a tag value is: one ending in a backslash (which InfluxDB cannot store, so HA loses the
        point) gets a space after it."""
        return _tag_value(self._stored_name(name))

    def line(self, p: HaPoint) -> str | None:
        """The point as one line of line protocol (microsecond timestamps), or None if it has no field."""
        fields = []
        for key, value in p.fields.items():
            written = _float(value) if isinstance(value, float) else _string(self._stored_text(value))
            if written is not None:
                fields.append(f"{self._name(key)}={written}")
        if not fields:
            return None
        tags = "".join(f",{self._name(k)}={self._name(v)}" for k, v in sorted(p.tags.items()))
        return f"{self._name(p.measurement)}{tags} {','.join(fields)} {p.micros}"

    def lines(self, records: list[dict[str, Any]]) -> list[str]:
        found = (self.line(p) for p in (self.point(r) for r in records) if p is not None)
        return [line for line in found if line is not None]
