"""The `webhooks` admin API: routes, shapes and their OpenAPI description (served at GET /openapi.json).

Secrets are stored (they sign deliveries) but never shown again after the 201 that generated them:
every other answer carries "****" and the last 4 characters.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

from ingestor import apikeys, cursors, metadata
from ingestor.errors import NotFound
from ingestor.httpapi import Api, Param, Request, Route
from ingestor.store.model import StoreError
from ingestor.webhooks import filters, settings, validation
from ingestor.webhooks.store import ID, OUTCOMES, Backlog, Webhook, WebhookStore

log = logging.getLogger(__name__)
TAG = "webhooks"


@functools.cache
def store() -> WebhookStore:
    return WebhookStore(metadata.default_url())


@functools.cache
def current() -> settings.Settings:
    return settings.load()


def masked(secret: str) -> str:
    return "****" + secret[-4:]


def shape(hook: Webhook, backlog: Backlog | None = None) -> dict[str, Any]:
    """A webhook as the API shows it: its registration, its state and what it has not delivered yet."""
    backlog = backlog if backlog is not None else store().backlogs([hook.id]).get(hook.id, Backlog())
    age = backlog.age_s(dt.datetime.now(dt.UTC))
    return {"id": hook.id, "name": hook.name, "url": hook.url, "secret": masked(hook.secret),
            "filters": {k: v for k, v in hook.filters.items() if v}, "enabled": hook.enabled, "state": hook.state,
            "paused": hook.paused, "paused_since": hook.paused_at, "paused_reason": hook.paused_reason,
            "failing_since": hook.failing_since, "consecutive_failures": hook.consecutive_failures,
            "last_error": hook.last_error, "retry_backlog": backlog.pending, "held": backlog.held,
            "oldest_undelivered_at": backlog.oldest_at,
            "oldest_undelivered_age_s": None if age is None else round(age, 1),
            "created_at": hook.created_at, "updated_at": hook.updated_at, "last_delivery_at": hook.last_delivery_at,
            "last_status": hook.last_status}


def _found(webhook_id: str) -> Webhook:
    hook = store().get(webhook_id) if ID.fullmatch(webhook_id) else None
    if hook is None:
        raise NotFound(f"no webhook {webhook_id!r}")
    return hook


def create(request: Request) -> dict[str, Any]:
    values, generated = validation.registration(request.body, current().allow_private)
    hook = store().create(values["name"], values["url"], values["secret"], values["filters"], values["enabled"])
    log.info("webhook registered", extra={"webhook_id": hook.id, "generated_secret": generated})
    out = shape(hook)
    if generated:
        out["secret"] = values["secret"]  # the one time it is shown
        out["secret_generated"] = True
    return out


def listing(request: Request) -> dict[str, Any]:
    limit, cursor = request.params["limit"], request.params["cursor"]
    hooks = store().page(limit + 1, cursor)
    more = len(hooks) > limit
    backlogs = store().backlogs([h.id for h in hooks[:limit]])
    return {"items": [shape(h, backlogs.get(h.id, Backlog())) for h in hooks[:limit]],
            "next_cursor": hooks[limit - 1].id if more else None}


def one(request: Request) -> dict[str, Any]:
    return shape(_found(request.params["webhook_id"]))


def replace(request: Request) -> dict[str, Any]:
    hook = _found(request.params["webhook_id"])
    values, generated = validation.registration(request.body, current().allow_private)
    if generated:
        del values["secret"]  # PUT without a secret keeps the one in use
    return shape(store().update(hook.id, values) or hook)


def patch(request: Request) -> dict[str, Any]:
    hook = _found(request.params["webhook_id"])
    values = validation.changes(request.body, current().allow_private)
    return shape(store().update(hook.id, values) or hook)


def remove(request: Request) -> dict[str, Any]:
    hook = _found(request.params["webhook_id"])
    store().delete(hook.id)
    log.info("webhook deleted", extra={"webhook_id": hook.id})
    return {"statusCode": 204, "body": b"", "headers": {}}


def resume(request: Request) -> dict[str, Any]:
    hook = _found(request.params["webhook_id"])
    log.info("webhook resumed by the API: what it held is sent, in order", extra={"webhook_id": hook.id,
                                                                                  "was_paused": hook.paused})
    return shape(store().resume(hook.id) or hook)


def deliveries(request: Request) -> dict[str, Any]:
    hook = _found(request.params["webhook_id"])
    limit, cursor = request.params["limit"], request.params["cursor"]
    rows = store().attempts(hook.id, limit + 1, cursors.row_id(cursor) if cursor else None)
    more = len(rows) > limit
    items = [{"delivery_id": r["delivery_id"], "event_id": r["event_id"], "event_type": r["event_type"],
              "attempt": r["attempt"], "status_code": r["status_code"], "latency_ms": r["latency_ms"],
              "error": r["error"], "outcome": r["outcome"], "at": r["at"]} for r in rows[:limit]]
    return {"items": items, "next_cursor": str(rows[limit - 1]["id"]) if more else None}


_STRINGS = {"type": "array", "maxItems": filters.MAX_ITEMS, "items": {"type": "string", "maxLength": 255}}
FILTERS = {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
    "event_types": {**_STRINGS, "description": 'HA event types; "*" is every type'},
    "entity_ids": {**_STRINGS, "description": "entity ids or fnmatch globs (sensor.*_temperature)"},
    "domains": _STRINGS, "areas": _STRINGS,
    "teams": {**_STRINGS, "description": "team abbreviations, optionally league-scoped (nfl:SF)"},
    "game_events": {"type": "array", "items": {"type": "string", "enum": list(filters.GAME_EVENTS)}},
    "alert_events": {"type": "array", "items": {"type": "string", "enum": list(filters.ALERT_EVENTS)},
                     "description": "alerts' starts and ends (docs/alerts.md)"},
}}
REGISTRATION = {"type": "object", "additionalProperties": False, "required": ["url", "filters"], "properties": {
    "url": {"type": "string", "format": "uri", "maxLength": 2048},
    "name": {"type": "string", "maxLength": validation.MAX_NAME},
    "secret": {"type": "string", "minLength": validation.SECRET_MIN, "maxLength": validation.SECRET_MAX,
               "description": "generated (and shown once) when absent"},
    "filters": {"$ref": "#/components/schemas/Filters"}, "enabled": {"type": "boolean", "default": True}}}
PATCH = {**REGISTRATION, "required": [], "minProperties": 1}
WEBHOOK = {"type": "object", "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"},
    "secret": {"type": "string", "description": "masked: ****abcd (in full only in the 201 that generated it)"},
    "filters": {"$ref": "#/components/schemas/Filters"}, "enabled": {"type": "boolean"},
    "state": {"type": "string", "enum": ["active", "failing", "paused", "disabled"],
              "description": "failing: its last attempt failed; paused: failing for long, its events are held"},
    "paused": {"type": "boolean"}, "paused_since": {"type": "string", "nullable": True},
    "paused_reason": {"type": "string", "nullable": True}, "failing_since": {"type": "string", "nullable": True},
    "consecutive_failures": {"type": "integer"}, "last_error": {"type": "string", "nullable": True},
    "retry_backlog": {"type": "integer", "description": "deliveries waiting for a retry"},
    "held": {"type": "integer", "description": "deliveries held while paused, or waiting their turn after"},
    "oldest_undelivered_at": {"type": "string", "nullable": True},
    "oldest_undelivered_age_s": {"type": "number", "nullable": True},
    "created_at": {"type": "string"}, "updated_at": {"type": "string"},
    "last_delivery_at": {"type": "string", "nullable": True}, "last_status": {"type": "integer", "nullable": True}}}
_REF = {"$ref": "#/components/schemas/Webhook"}
ATTEMPT = {"type": "object", "properties": {
    "delivery_id": {"type": "string"}, "event_id": {"type": "string"}, "event_type": {"type": "string"},
    "attempt": {"type": "integer"}, "status_code": {"type": "integer", "nullable": True},
    "latency_ms": {"type": "number", "nullable": True}, "error": {"type": "string", "nullable": True},
    "outcome": {"type": "string", "enum": [*OUTCOMES, "failed", "skipped_paused"],
                "description": "delivered, dead_lettered, skipped: final; retrying, held: not yet (failed and "
                               "skipped_paused: written by earlier versions)"},
    "at": {"type": "string"}}}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": item},
                                             "next_cursor": {"type": "string", "nullable": True}}}


def _webhook_id(raw: str) -> str:
    """The list's cursor is the id of the last webhook of the previous page."""
    if not ID.fullmatch(raw):
        raise cursors.CursorError
    return raw


_WID = Param("webhook_id", "the webhook's id", max_length=64)
_CURSOR = Param("cursor", "next_cursor of the previous page", max_length=64, check=_webhook_id)
_LOG_CURSOR = Param("cursor", "next_cursor of the previous page", max_length=64, check=cursors.row_id)

ROUTES = [
    Route("POST", "/webhooks", create, "Register a webhook", body=REGISTRATION, response=_REF, status=201, tag=TAG,
          needs_key=True, description="The URL must be http(s) and public unless WEBHOOK_ALLOW_PRIVATE_TARGETS."),
    Route("GET", "/webhooks", listing, "List webhooks (secrets masked)", tag=TAG, needs_key=True,
          params=(Param("limit", kind="integer", minimum=1, maximum=100, default=50), _CURSOR), response=_page(_REF)),
    Route("GET", "/webhooks/{webhook_id}", one, "One webhook", params=(_WID,), response=_REF, tag=TAG, needs_key=True),
    Route("PUT", "/webhooks/{webhook_id}", replace, "Replace a webhook (the secret is kept when absent)",
          params=(_WID,), body=REGISTRATION, response=_REF, tag=TAG, needs_key=True),
    Route("PATCH", "/webhooks/{webhook_id}", patch, "Change some fields of a webhook", params=(_WID,), body=PATCH,
          response=_REF, tag=TAG, needs_key=True),
    Route("DELETE", "/webhooks/{webhook_id}", remove, "Delete a webhook and its delivery log", params=(_WID,),
          status=204, tag=TAG, needs_key=True),
    Route("POST", "/webhooks/{webhook_id}/resume", resume, "Un-pause a webhook now; what it held is sent, in order",
          params=(_WID,), response=_REF, tag=TAG, needs_key=True),
    Route("GET", "/webhooks/{webhook_id}/deliveries", deliveries, "Delivery attempts, newest first",
          params=(_WID, Param("limit", kind="integer", minimum=1, maximum=500, default=50), _LOG_CURSOR),
          response=_page(ATTEMPT), tag=TAG, needs_key=True),
]

API = Api("HA Ingestor webhooks", "1.0", "Register webhooks that receive signed HA and sports events; see "
          "docs/webhooks.md for verifying signatures.", ROUTES,
          components={"Webhook": WEBHOOK, "Filters": FILTERS, "Attempt": ATTEMPT}, key=apikeys.WEBHOOKS)


def health() -> dict[str, Any]:
    try:
        return {"status": "ok", "metadata_db_ms": round(store().ping(), 2)}
    except StoreError as exc:
        return {"status": "unhealthy", "reason": str(exc)}
