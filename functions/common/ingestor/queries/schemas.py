"""JSON schemas (OpenAPI 3.0.3) of the query API's responses: the components and each route's shape.

Accurate on purpose: schemathesis checks every answer against them, so a field that can be null says so.
"""

from __future__ import annotations

from typing import Any

from ingestor import record

S = {"type": "string"}
S_NULL = {"type": "string", "nullable": True}
TIME = {"type": "string", "description": "ISO 8601 UTC"}
TIME_NULL = {**TIME, "nullable": True}
N = {"type": "number"}
N_NULL = {"type": "number", "nullable": True}
INT = {"type": "integer", "minimum": 0}
BOOL = {"type": "boolean"}
RESOLUTION = {"type": "string", "example": "1d+1h+5m+raw",
              "description": "the tiers that answered, coarsest first: 16d (SQL stores, where two or more fit), "
                             "1d, 1h, 5m rollups (whole buckets) and raw events (the rest); `raw` alone when no rollup "
                             "fits the range or filter"}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object schema; OpenAPI 3.0 wants `required` left out rather than empty."""
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def page(item: dict[str, Any]) -> dict[str, Any]:
    return obj(["items", "next_cursor"], items=array(item), next_cursor=S_NULL)


OBJECT_NULL = {"type": "object", "nullable": True, "additionalProperties": True}


def _record_field(name: str) -> dict[str, Any]:
    """A field of the event record (ingestor.record) as a stored event carries it."""
    if name in ("event_id", "event_type"):
        return S
    if name == "time_fired":
        return TIME
    if name == "context":
        return obj([], **dict.fromkeys(record.CONTEXT_KEYS, S_NULL))
    if name == "data":
        return {"nullable": True, "description": "payload of non-state events (any JSON)"}
    if name in record.TEXT_FIELDS:
        return S_NULL
    if name in record.NUMBER_FIELDS:
        return N_NULL
    return OBJECT_NULL  # attributes and the context sources' values


LABELS = {  # what the query API adds to a stored record (ingestor.queries.events.labelled)
    "entity_name": {**S_NULL, "description": "the entity's name (friendly_name, or the metadata DB's for a record "
                                             "without one, such as a service call's)"},
    "area_name": {**S_NULL, "description": "the area's name"},
    "device_name": {**S_NULL, "description": "the device's name"},
    "unit_of_measurement": {**S_NULL, "description": "the unit as HA displays it, e.g. °C; unit is its normalized "
                                                     "name, e.g. celsius"},
}
EVENT = obj(["event_id", "event_type", "time_fired", "context"],
            **{name: _record_field(name) for name in (*record.FIELDS, *record.OPTIONAL_FIELDS)}, **LABELS)
POINT = obj(["t", "count", "mean", "min", "max"], t=TIME, count=INT, mean=N_NULL, min=N_NULL, max=N_NULL)
COUNT = obj(["key", "count"], key=S_NULL, count=INT, name={**S_NULL, "description": "the entity's or area's name"})
NODE = obj(["context_id", "parent_id", "events", "children"], context_id=S, parent_id=S_NULL,
           events=array(ref("Event")), children=array(ref("TraceNode")))
DEVICE = obj(["device_id", "name", "manufacturer", "model", "sw_version", "area_id", "area_name", "entity_count"],
             device_id=S, name=S_NULL, manufacturer=S_NULL, model=S_NULL, sw_version=S_NULL, hw_version=S_NULL,
             area_id=S_NULL, area_name=S_NULL, entity_count=INT, disabled=BOOL)
ENTITY = obj(["entity_id", "name", "domain", "platform", "device_id", "area_id", "disabled"],
             entity_id=S, name={**S_NULL, "description": "the name HA displays (friendly_name)"}, domain=S_NULL,
             platform=S_NULL, device_id=S_NULL, device_name=S_NULL, area_id=S_NULL, area_name=S_NULL,
             disabled=BOOL, friendly_name=S_NULL, device_class=S_NULL,
             unit={**S_NULL, "description": "normalized unit name, e.g. celsius"},
             unit_of_measurement={**S_NULL, "description": "the unit as HA displays it, e.g. °C"}, state=S_NULL,
             last_changed=S_NULL, entity_category=S_NULL)
AREA = obj(["area_id", "name", "device_count", "entity_count"], area_id=S, name=S_NULL, device_count=INT,
           entity_count=INT)
COMPONENTS: dict[str, Any] = {"Event": EVENT, "Point": POINT, "Count": COUNT, "TraceNode": NODE, "Device": DEVICE,
                              "Entity": ENTITY, "Area": AREA}

EVENTS = page(ref("Event"))
HISTORY = obj(
    ["entity_id", "start", "end", "numeric", "unit", "unit_of_measurement", "friendly_name", "timeline", "series",
     "truncated", "bucket_s"],
    entity_id=S, start=TIME, end=TIME,
    numeric={**BOOL, "description": "chart as a line (a unit, a state_class, or only numbers), else a timeline"},
    unit=S_NULL, unit_of_measurement=S_NULL, device_class=S_NULL, state_class=S_NULL, friendly_name=S_NULL,
    area_id=S_NULL, area_name=S_NULL, device_id=S_NULL, device_name=S_NULL,
    changes={**INT, "description": "state changes in the range (the timeline's segments that begin with one)"},
    timeline=array(obj(["start", "end", "state", "duration_s"], start=TIME, end=TIME, state=S_NULL,
                       duration_s=N)),
    series=array(ref("Point")), truncated=BOOL, bucket_s=INT, resolution=RESOLUTION,
)
SUMMARY = obj(["start", "end", "total", "rate_per_min", "by_domain", "by_event_type", "top_entities", "by_area",
               "resolution"],
              start=TIME, end=TIME, total=INT, rate_per_min=N, by_domain=array(ref("Count")),
              by_event_type=array(ref("Count")), top_entities=array(ref("Count")), by_area=array(ref("Count")),
              resolution=RESOLUTION)
TREND = obj(["start", "end", "bucket_s", "total", "rate_per_min", "values", "points", "resolution"], start=TIME,
            end=TIME, bucket_s=INT, total=INT, rate_per_min=N,
            values={**BOOL, "description": "whether mean/min/max are given (one entity only)"},
            points=array(ref("Point")), resolution=RESOLUTION)
READING = {**obj(["value", "state", "unit", "time"], value=N_NULL, state=S_NULL, unit=S_NULL, time=TIME),
           "nullable": True}
HOME_TIME_ZONE = obj(["name", "source"], name=S, source={"type": "string", "enum": ["home_assistant", "utc_fallback"]},
                     reason=S)
ENERGY_SUMMARY = obj(
    ["start", "end", "time_zone", "unit", "total_kwh", "meters", "power", "resolution"], start=TIME, end=TIME,
    time_zone=HOME_TIME_ZONE, unit=S,
    total_kwh=N, resolution=RESOLUTION,
    meters=array(obj(["entity_id", "name", "area_name", "energy_kwh", "share", "resets", "reading"],
                     entity_id=S, name=S_NULL, area_name=S_NULL, energy_kwh=N, share=N_NULL, resets=INT,
                     reading=READING)),
    power=array(obj(["entity_id", "name", "area_name", "current"], entity_id=S, name=S_NULL, area_name=S_NULL,
                    current=READING)))
ENERGY_HOURLY = obj(
    ["start", "end", "bucket_s", "time_zone", "entities", "units", "total_kwh", "total_cost", "total_carbon", "points",
     "resolution"], start=TIME, end=TIME, bucket_s=INT, time_zone=HOME_TIME_ZONE, entities=array(S),
    units=obj(["energy", "price", "cost", "carbon_intensity", "carbon"], energy=S, price=S_NULL, cost=S_NULL,
              carbon_intensity=S_NULL, carbon=S_NULL),
    total_kwh=N, total_cost=N_NULL, total_carbon=N_NULL, resolution=RESOLUTION,
    points=array(obj(["t", "energy_kwh", "cost", "carbon", "hours"], t=TIME, energy_kwh=N_NULL, cost=N_NULL,
                     carbon=N_NULL, hours=INT, price=N_NULL, carbon_intensity=N_NULL)))
ENERGY_CORRELATION = obj(
    ["start", "end", "entities", "alpha", "energy_hours", "factors", "resolution"], start=TIME, end=TIME,
    entities=array(S), alpha=N, energy_hours=INT, resolution=RESOLUTION,
    factors=array(obj(["factor", "entity_id", "unit", "r", "n", "p_value", "significant", "first", "last"],
                      factor=S, entity_id=S, unit=S_NULL, r=N_NULL, n=INT, p_value=N_NULL, significant=BOOL,
                      first=TIME_NULL, last=TIME_NULL)))
ENERGY_IMPACT = obj(
    ["start", "end", "device", "on_state", "entities", "unit", "min_hours", "changes", "on_hours", "hours_on",
     "hours_off", "mean_on", "mean_off", "per_hour", "attributed", "resolution"], start=TIME, end=TIME, device=S,
    on_state=S, entities=array(S), unit=S, min_hours=INT, changes=INT, on_hours=N, hours_on=INT, hours_off=INT,
    mean_on=N_NULL, mean_off=N_NULL, per_hour=N_NULL, attributed=N_NULL, resolution=RESOLUTION)
ENERGY_RECOMMENDATIONS = obj(
    ["start", "end", "time_zone", "items", "resolution"], start=TIME, end=TIME, time_zone=HOME_TIME_ZONE,
    resolution=RESOLUTION,
    items=array(obj(["kind", "entity_id", "text", "figures", "based_on"], kind=S, entity_id=S_NULL, text=S,
                    figures={"type": "object", "additionalProperties": True},
                    based_on={"type": "object", "additionalProperties": True})))
TRACE = obj(["context_id", "root", "depth", "truncated", "event_count"], context_id=S, root=ref("TraceNode"),
            depth=INT, truncated=BOOL, event_count=INT, node_count=INT, levels_up=INT, levels_down=INT)
AREAS_ACTIVITY = obj(
    ["start", "end", "bucket_s", "areas", "buckets", "cells", "resolution"], start=TIME, end=TIME, bucket_s=INT,
    resolution=RESOLUTION,
    areas=array(obj(["area_id", "name", "count"], area_id=S_NULL, name=S_NULL, count=INT)),
    buckets=array(TIME),
    cells=array({"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 3, "maxItems": 3}),
)
DURATIONS = obj(
    ["items", "anomalies", "resolution"], resolution=RESOLUTION,
    items=array(obj(["entity_id", "state", "count", "mean_s", "min_s", "max_s", "total_s"], entity_id=S,
                    name=S_NULL, state=S_NULL, count=INT, mean_s=N, min_s=N, max_s=N, total_s=N)),
    anomalies=array(obj(["event_id", "entity_id", "state", "time_fired", "duration_s", "expected_s", "kind"],
                        event_id=S, entity_id=S, name=S_NULL, state=S_NULL, time_fired=TIME, duration_s=N,
                        expected_s=N,
                        kind={"type": "string", "enum": ["too_short", "too_long"]})),
    start=TIME, end=TIME, samples=INT, sampled=BOOL,
    rule=obj([], min_samples=INT, too_short_below=N, too_long_above=N, description=S),
)
RELIABILITY = obj(
    ["items", "resolution"], start=TIME, end=TIME, resolution=RESOLUTION,
    items=array(obj(["device_id", "name", "manufacturer", "model", "area_id", "entity_count", "events",
                     "events_per_hour", "last_seen", "unavailable_periods", "unavailable_s", "availability"],
                    device_id=S, name=S_NULL, manufacturer=S_NULL, model=S_NULL, area_id=S_NULL, area_name=S_NULL,
                    entity_count=INT,
                    events=INT, events_per_hour=N, last_seen=TIME_NULL, unavailable_periods=INT,
                    unavailable_s=N, availability={"type": "number", "minimum": 0, "maximum": 1},
                    known=BOOL)),
    truncated=BOOL,
)
DEVICES = page(ref("Device"))
DEVICE_DETAIL = {"allOf": [ref("Device"), obj(["entities"], entities=array(ref("Entity")))]}
ENTITIES = page(ref("Entity"))
AREAS = obj(["items"], items=array(ref("Area")))
CONFIG = obj(["event_store", "metadata_db", "limits"],
             event_store=obj(["backend", "url"], backend=S, url=S), metadata_db=obj(["url"], url=S),
             limits={"type": "object", "additionalProperties": {"type": "integer"}})
