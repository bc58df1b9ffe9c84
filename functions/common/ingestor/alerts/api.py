"""The alerts' routes, served by the health function: the cron's POST / evaluates the rules; GET /alerts lists the
active alerts, GET /alerts/history every alert, newest first (docs/alerts.md)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ingestor import metadata
from ingestor.alerts import settings
from ingestor.alerts.evaluate import Evaluator, as_list
from ingestor.alerts.store import AlertStore
from ingestor.httpapi import Param, Request, Route
from ingestor.store.protocol import EventStore

UNSIGNED_READS = ("/alerts", "/alerts/history")
LIMIT = Param("limit", "How many alerts", "integer", default=100, minimum=1, maximum=1000)
BEFORE = Param("before", "Continue after this alert id (the previous page's next_cursor)", max_length=64)


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

    def active(_: Request) -> dict[str, Any]:
        return {"alerts": as_list(store().active()), "thresholds": evaluator().settings.describe()}

    def history(request: Request) -> dict[str, Any]:
        limit = request.params["limit"]
        found = store().history(limit + 1, request.params["before"])
        return {"alerts": as_list(found[:limit]), "next_cursor": found[limit - 1].id if len(found) > limit else None}

    return [
        Route("POST", "/", evaluate, "Evaluate the alert rules (the cron's call; signed)", tag="alerts"),
        Route("GET", "/alerts", active, "The active alerts and the rules' thresholds", tag="alerts"),
        Route("GET", "/alerts/history", history, "Every alert, active or ended, newest first",
              params=(LIMIT, BEFORE), tag="alerts"),
    ]
