"""The alerts' routes, served by the health function: the cron's POST / evaluates the rules; GET /alerts lists the
active alerts and the thresholds in force, GET /alerts/history every alert, newest first; PUT /alerts/thresholds
changes thresholds, with the `alerts-api-key` secret's key (docs/alerts.md)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from ingestor import apikeys, metadata
from ingestor import settings as settings_
from ingestor.alerts import settings
from ingestor.alerts.evaluate import Evaluator, as_list
from ingestor.alerts.store import AlertStore
from ingestor.config import ConfigError
from ingestor.errors import Invalid
from ingestor.httpapi import Param, Request, Route, iso
from ingestor.store.protocol import EventStore

UNSIGNED_READS = ("/alerts", "/alerts/history")
LIMIT = Param("limit", "How many alerts", "integer", default=100, minimum=1, maximum=1000)
BEFORE = Param("before", "Continue after this alert id (the previous page's next_cursor)", max_length=64)
KEY = apikeys.ALERTS  # PUT /alerts/thresholds needs it


@functools.cache
def store() -> AlertStore:
    return AlertStore(metadata.default_url())


def routes(event_store: Callable[[], EventStore], status: Callable[[], dict[str, Any]]) -> list[Route]:
    """The routes, given health's event store and its status of every component (GET /'s body)."""

    @functools.cache
    def evaluator() -> Evaluator:
        return Evaluator(store(), settings.load(), event_store, status)

    def evaluate(_: Request) -> dict[str, Any]:
        return evaluator().evaluate().as_dict()

    def thresholds() -> dict[str, Any]:
        changed = store().thresholds()
        return {"thresholds": evaluator().settings().describe(), "changed": sorted(changed)}

    def active(_: Request) -> dict[str, Any]:
        return {"alerts": as_list(store().active()), **thresholds()}

    def change(request: Request) -> dict[str, Any]:
        """Merge the body's {ALERT_…: value} into the changed thresholds (null: back to the environment's)."""
        if not isinstance(request.body, dict) or not request.body:
            raise Invalid("body: expected an object of ALERT_… variables and their values", code="bad_body")
        merged = {k: v for k, v in {**store().thresholds(), **request.body}.items() if v is not None}
        try:
            settings_.override(evaluator().base, merged)
        except ConfigError as exc:
            raise Invalid(str(exc), code="bad_threshold") from None
        store().set_thresholds(merged, iso(dt.datetime.now(dt.UTC)) or "")
        return thresholds()

    def history(request: Request) -> dict[str, Any]:
        limit = request.params["limit"]
        found = store().history(limit + 1, request.params["before"])
        return {"alerts": as_list(found[:limit]), "next_cursor": found[limit - 1].id if len(found) > limit else None}

    return [
        Route("POST", "/", evaluate, "Evaluate the alert rules (the cron's call; signed)", tag="alerts"),
        Route("GET", "/alerts", active, "The active alerts and the rules' thresholds", tag="alerts"),
        Route("GET", "/alerts/history", history, "Every alert, active or ended, newest first",
              params=(LIMIT, BEFORE), tag="alerts"),
        Route("PUT", "/alerts/thresholds", change, "Change thresholds (null: back to the environment's value)",
              body={"type": "object", "additionalProperties": {"nullable": True}}, tag="alerts", needs_key=True),
    ]
