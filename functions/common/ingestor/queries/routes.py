"""The query API: every read route, its parameters and response schema; GET /openapi.json comes with it.

Store trouble becomes a clear answer: unreachable -> 503 (retry later), refused -> 500 store_error, a value
a backend cannot express (InfluxQL has no escape for a carriage return) -> 400.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ingestor import config, hometime, metadata, store
from ingestor.energy import advice
from ingestor.errors import Invalid
from ingestor.httpapi import Api, Param, Request, Route
from ingestor.queries import analytics, catalog, energy, events, history, params, schemas, stats, trace
from ingestor.queries.sources import event_store, metadata_db, names, now
from ingestor.sports.routes import routes as sports_routes
from ingestor.store.model import EventFilter
from ingestor.store.sqlengine import safe_url

Handler = Callable[[Request], Any]


def guarded(fn: Handler) -> Handler:
    """What the store refuses to express (e.g. a carriage return in InfluxQL) is the caller's 400."""
    @functools.wraps(fn)
    def run(req: Request) -> Any:
        try:
            return fn(req)
        except ValueError as exc:
            raise Invalid(str(exc), code="bad_parameter") from None
    return run


def _range(req: Request) -> params.Range:
    return params.time_range(req.params, now())


@guarded
def _events(req: Request) -> Any:
    r = _range(req)
    p = req.params
    return events.search(event_store(), params.event_filter(p, r), p["limit"], p["cursor"], names())


@guarded
def _history(req: Request) -> Any:
    r = _range(req)
    p = req.params
    meta = catalog.entity(metadata_db(), p["entity_id"])
    return history.history(event_store(), meta, p["entity_id"], r, p["limit"],
                           params.bucket_seconds(p["bucket"], r), now(), names())


@guarded
def _summary(req: Request) -> Any:
    r = _range(req)
    return stats.summary(event_store(), params.event_filter(req.params, r), r, req.params["top"], names())


@guarded
def _trend(req: Request) -> Any:
    r = _range(req)
    return stats.trend(event_store(), params.event_filter(req.params, r), r,
                       params.bucket_seconds(req.params["bucket"], r))


@guarded
def _trace(req: Request) -> Any:
    found = trace.trace(event_store(), req.params["context_id"], req.params["depth"], req.params["direction"])
    return {**found, "root": events.labelled_tree(found["root"], names())}


@guarded
def _areas(req: Request) -> Any:
    r = _range(req)
    p = req.params
    f = EventFilter(start=r.start, end=r.end, domain=p["domain"], event_type=p["event_type"])
    return analytics.areas(event_store(), f, r, analytics.heat_bucket(p["bucket"], r), names().areas)


@guarded
def _durations(req: Request) -> Any:
    r = _range(req)
    p = req.params
    f = EventFilter(start=r.start, end=r.end, entity_id=p["entity_id"], domain=p["domain"], area_id=p["area_id"])
    return analytics.durations(event_store(), f, r, p["limit"], p["anomalies"], names().entities)


@guarded
def _reliability(req: Request) -> Any:
    r = _range(req)
    p = req.params
    db = metadata_db()
    f = EventFilter(start=r.start, end=r.end, area_id=p["area_id"])
    devices = catalog.all_devices(db)
    if p["area_id"] is not None:
        devices = {k: v for k, v in devices.items() if v["area_id"] == p["area_id"]}
    return analytics.reliability(event_store(), f, r, now(), devices, catalog.entity_devices(db), p["limit"])


@guarded
def _devices(req: Request) -> Any:
    p = req.params
    return catalog.list_devices(metadata_db(), p["manufacturer"], p["model"], p["area_id"], p["platform"], p["q"],
                                p["limit"], p["cursor"])


@guarded
def _device(req: Request) -> Any:
    return catalog.get_device(metadata_db(), req.params["device_id"])


@guarded
def _entities(req: Request) -> Any:
    p = req.params
    return catalog.list_entities(metadata_db(), p["domain"], p["platform"], p["area_id"], p["device_id"], p["q"],
                                 p["limit"], p["cursor"])


@guarded
def _areas_list(req: Request) -> Any:
    return catalog.list_areas(metadata_db())


def _energy_entities() -> list[dict[str, Any]]:
    return catalog.measuring(metadata_db(), energy.DEVICE_CLASSES, energy.UNITS)


def _home_clock() -> hometime.HomeClock:
    return hometime.of(metadata_db().ha_config())


@guarded
def _energy_summary(req: Request) -> Any:
    at, clock = now(), _home_clock()
    start = req.params["start"] or clock.midnight(at)  # the home's today, not UTC's
    r = params.time_range({**req.params, "start": start}, at)
    return energy.summary(event_store(), _energy_entities(), r, clock)


@guarded
def _energy_hourly(req: Request) -> Any:
    r = _range(req)
    name = req.params["bucket"] or ("1h" if params.bucket_seconds(None, r, preferred="1h") == 3600 else "1d")
    bucket = params.bucket_seconds(name, r)
    return energy.hourly(event_store(), _energy_entities(), r, bucket, req.params["entity_id"], _home_clock())


@guarded
def _energy_correlation(req: Request) -> Any:
    return energy.correlation(event_store(), _energy_entities(), _range(req), req.params["entity_id"])


@guarded
def _energy_impact(req: Request) -> Any:
    p = req.params
    return energy.impact(event_store(), _energy_entities(), _range(req), p["device"], p["on_state"], p["entity_id"])


@guarded
def _energy_recommendations(req: Request) -> Any:
    return energy.recommendations(event_store(), _energy_entities(), _range(req), _home_clock())


def _config(req: Request) -> Any:
    return {"event_store": {"backend": event_store().backend, "url": _safe(store.default_url())},
            "metadata_db": {"url": _safe(metadata.default_url())},
            "limits": {"max_points": params.MAX_POINTS, "trace_max_events": trace.MAX_EVENTS,
                       "trace_max_nodes": trace.MAX_NODES, "duration_samples": analytics.SAMPLE_LIMIT,
                       "unavailable_transitions": analytics.TRANSITION_LIMIT,
                       "events_page_max": 1000, "history_max": 10_000}}


def _safe(url: str) -> str:
    try:
        return safe_url(url) if url else ""
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is shown by its scheme only
        return url.split(":", 1)[0] + "://****"


TAG_EVENTS, TAG_STATS, TAG_ANALYTICS, TAG_CATALOG = "events", "stats", "analytics", "catalog"
ENTITY_PATH = Param("entity_id", "Entity id, e.g. sensor.kitchen_temperature")
AREA_BUCKET = Param("bucket", f"Bucket width; default 1h, or the finest giving at most {analytics.HEAT_COLUMNS} "
                    f"buckets (explicit: at most {params.MAX_POINTS})",
                    enum=tuple(params.BUCKETS))
DURATIONS_RULE = (f"Anomalies: per entity and state left, with at least {analytics.MIN_SAMPLES} stored durations "
                  f"in the range, expected = their median; shorter than {analytics.TOO_SHORT} x median is "
                  f"too_short, longer than {analytics.TOO_LONG} x median too_long. At most "
                  f"{analytics.SAMPLE_LIMIT} durations (the newest) are read; sampled: true when that cap was reached.")
RELIABILITY_RULE = ("Per device: events and last event in the range; an unavailable period is an entity of the device "
                    "entering 'unavailable' until its next change (or the range end), periods of one device's "
                    "entities merged; availability = 1 - unavailable_s / range_s. Least available first.")
TREND_RULE = ("Every bucket of the range, empty ones included (count 0); total and rate_per_min are the points' "
              "sum and that sum per minute of the range. mean/min/max of state_value are given (values: true) only "
              "with entity_id: across entities they would mix units; otherwise they are null.")
TAG_ENERGY = "energy"
METER = Param("entity_id", "One energy meter instead of the sum of all (a whole-home meter beside per-device "
                           "meters would count twice)")
ENERGY_RULE = ("Meters: device_class energy or Wh/kWh/MWh, read as total_increasing (a drop below 90 % of the previous "
               "reading is a reset, counted from zero, as HA's statistics do); energy in kWh. Hours without a "
               "reading are null; what the meter rose meanwhile lands in the next hour with one.")
TOP = Param("top", "How many top entities", "integer", default=10, minimum=1, maximum=100)


def routes() -> list[Route]:
    s = schemas
    return [
        Route("GET", "/events", _events, "Recent events and search, newest first",
              (*params.filters("-24h"), params.limit(100, 1000), params.CURSOR), s.EVENTS, tag=TAG_EVENTS),
        Route("GET", "/entities/{entity_id}/history", _history, "One entity's state timeline and numeric series",
              (ENTITY_PATH, params.start("-24h"), params.END, params.limit(2000, 10_000), params.BUCKET),
              s.HISTORY, tag=TAG_EVENTS,
              description="timeline: the newest `limit` state changes as segments (truncated when more); "
                          "series: count/mean/min/max per bucket, pruned days from their summaries."),
        Route("GET", "/stats/summary", _summary, "Totals, rate and counts by domain, event type, entity, area",
              (*params.filters("-24h"), TOP), s.SUMMARY, tag=TAG_STATS),
        Route("GET", "/stats/trend", _trend, "Event counts per time bucket; state_value mean/min/max of one entity",
              (*params.filters("-24h"), params.BUCKET), s.TREND, tag=TAG_STATS, description=TREND_RULE),
        Route("GET", "/analytics/trace/{context_id}", _trace, "Automation causality tree through context.parent_id",
              (Param("context_id", "An HA context id", max_length=64),
               Param("depth", "Levels walked in each direction", "integer", default=10, minimum=1, maximum=50),
               Param("direction", "up: ancestors; down: descendants; both: the whole tree", default="both",
                     enum=("both", "up", "down"))),
              s.TRACE, tag=TAG_ANALYTICS,
              description=f"At most {trace.MAX_EVENTS} events and {trace.MAX_NODES} contexts (truncated: true)."),
        Route("GET", "/analytics/areas", _areas, "Per-area event counts per bucket (heatmap)",
              (params.start("-7d"), params.END, AREA_BUCKET, params.DOMAIN, params.EVENT_TYPE), s.AREAS_ACTIVITY,
              tag=TAG_ANALYTICS, description="cells are [area_index, bucket_index, count], zeros left out."),
        Route("GET", "/analytics/durations", _durations, "How long entities stay in each state, and anomalies",
              (params.start("-7d"), params.END, params.ENTITY_ID, params.DOMAIN, params.AREA_ID,
               params.limit(50, 1000),
               Param("anomalies", "Anomalies returned at most", "integer", default=100, minimum=0, maximum=1000)),
              s.DURATIONS, tag=TAG_ANALYTICS, description=DURATIONS_RULE),
        Route("GET", "/analytics/reliability", _reliability, "Per device: event rate, last seen, unavailability",
              (params.start("-7d"), params.END, params.AREA_ID, params.limit(100, 1000)), s.RELIABILITY,
              tag=TAG_ANALYTICS, description=RELIABILITY_RULE),
        Route("GET", "/energy/summary", _energy_summary, "Energy per meter (top consumers, shares), current power",
              (Param("start", "Range start (inclusive); default today 00:00 in the home's time zone (Home Assistant's "
                      "configured time_zone; UTC while that is not known): time_zone says which", "time"),
               params.END),
              s.ENERGY_SUMMARY, tag=TAG_ENERGY, description=ENERGY_RULE),
        Route("GET", "/energy/hourly", _energy_hourly, "Energy, cost and carbon per hour or day",
              (params.start("-7d"), params.END, METER,
               Param("bucket", f"1h (default when it gives at most {params.MAX_POINTS} buckets) or 1d (the "
                               "home's days, from its midnights in time_zone)", enum=("1h", "1d"))),
              s.ENERGY_HOURLY, tag=TAG_ENERGY,
              description=ENERGY_RULE + " Cost and carbon: each hour's energy times that hour's mean stored price "
                                        "and carbon intensity, in their units; null where either is missing."),
        Route("GET", "/energy/correlation", _energy_correlation,
              "Correlation of hourly energy with outdoor temperature, price and carbon intensity",
              (params.start("-30d"), params.END, METER), s.ENERGY_CORRELATION, tag=TAG_ENERGY,
              description="Pearson r over the hours that have both figures (an hour whose energy spans a gap is "
                          "left out), n those hours, p_value of the two-sided t-test of r = 0; significant when "
                          "p_value < alpha. r is null below 3 hours or for a constant series."),
        Route("GET", "/energy/impact", _energy_impact, "A device's impact: the home's hourly energy while on vs off",
              (Param("device", "The device's entity, e.g. switch.kettle", required=True), params.start("-7d"),
               params.END, METER, Param("on_state", "The state that counts as on", default="on", max_length=64)),
              s.ENERGY_IMPACT, tag=TAG_ENERGY,
              description="From the device's state timeline: the fraction of each hour it was in on_state; hours "
                          "on are those it was on for half or more. per_hour = mean kWh of the whole hours on - "
                          "of the hours off (null unless both have min_hours); attributed = per_hour x on_hours."),
        Route("GET", "/energy/recommendations", _energy_recommendations,
              "Recommendations citing the home's own figures and the data they rest on",
              (params.start("-7d"), params.END), s.ENERGY_RECOMMENDATIONS, tag=TAG_ENERGY,
              description=f"shift: a meter's energy in the dearest {advice.PEAK_HOURS} h of the day (mean stored "
                          f"price per hour of the home's day, in its time_zone) vs the cheapest {advice.CHEAP_HOURS} h "
                          "window, per week; "
                          f"only with a price for every hour of the day on {advice.MIN_PRICE_DAYS}+ days and "
                          f"{advice.MIN_SHIFT_KWH}+ kWh in the peak. unavailable: {advice.MIN_UNAVAILABLE}+ times in "
                          f"the range. temperature: a significant |r| >= {advice.MIN_R} over "
                          f"{advice.MIN_CORRELATION_HOURS}+ hours."),
        Route("GET", "/devices", _devices, "Devices from the metadata DB",
              (Param("manufacturer", "Exact manufacturer"), Param("model", "Exact model"), params.AREA_ID,
               Param("platform", "Devices with an entity of this integration, e.g. hue"),
               Param("q", "Case-insensitive substring of name, manufacturer, model or id"),
               params.limit(100, 1000), params.cursor(catalog.DEVICES)), s.DEVICES, tag=TAG_CATALOG),
        Route("GET", "/devices/{device_id}", _device, "One device and its entities",
              (Param("device_id", "Device id", max_length=64),), s.DEVICE_DETAIL, tag=TAG_CATALOG),
        Route("GET", "/entities", _entities, "Entities from the metadata DB",
              (params.DOMAIN, Param("platform", "Integration, e.g. hue"), params.AREA_ID, params.DEVICE_ID,
               Param("q", "Case-insensitive substring of entity_id or name"), params.limit(100, 1000),
               params.cursor(catalog.ENTITIES)), s.ENTITIES, tag=TAG_CATALOG),
        Route("GET", "/areas", _areas_list, "Areas with their device and entity counts", (), s.AREAS,
              tag=TAG_CATALOG),
        Route("GET", "/config", _config, "This function's configuration (URLs without passwords)", (), s.CONFIG,
              tag="meta"),
        *sports_routes(),
    ]


@functools.cache
def api() -> Api:
    return Api("HA Ingestor query API", config.env_str("VERSION", "1.0.0") or "1.0.0",
               "Every read endpoint of HA Ingestor: events, statistics, analytics, devices and entities. "
               "Times: " + "ISO 8601 with a zone, or relative (-1h, -30m, -7d, now). Errors: "
               '{"error": {"code", "message"}}.', routes(), components=schemas.COMPONENTS)


def health() -> dict[str, Any]:
    state = event_store().health()
    meta = metadata_db().health()
    ok = state.status == "ok" and meta.get("status") == "ok"
    return {"status": "ok" if ok else "unavailable", "store": {"status": state.status, "backend": state.backend,
                                                               "latency_ms": state.latency_ms, "reason": state.reason},
            "metadata_db": meta}
