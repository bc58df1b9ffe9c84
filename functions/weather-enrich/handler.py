"""weather-enrich: ha.events.normalized -> ha.events.enriched, each record with the latest context values
(weather, and the other configured sources under their own keys), each marked with its age.

It never calls a provider: values come from the shared cache that context-poll fills, so a slow or
dead provider cannot slow the pipeline; its events carry the stale value or null instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestor import config, record, stage, subjects
from ingestor.context import cache, enrich

SOURCES = [name for name in config.env_list("CONTEXT_SOURCES", ["weather", "air_quality"])
           if name in record.CONTEXT_SOURCES]  # context-poll reports the others as problems
SNAPSHOT = cache.Snapshot(config.env_float("ENRICH_CACHE_S", 5))
PUBLISH = stage.publisher(subjects.ENRICHED)


def handle(event: Any, context: Any) -> dict[str, Any]:
    values = enrich.current(SNAPSHOT.get(), dt.datetime.now(dt.UTC), SOURCES)

    def _enrich(event: Any) -> tuple[Any, str | None]:
        reason = record.problem(event)
        return (None, reason) if reason else (enrich.attach(event, values), None)

    return stage.run(event, "weather-enrich", subjects.NORMALIZED, PUBLISH, _enrich)


health = stage.health
