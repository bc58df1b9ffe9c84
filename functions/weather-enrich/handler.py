"""weather-enrich: ha.events.normalized -> ha.events.enriched, each record with the latest context values
(weather, and the other configured sources under their own keys), each marked with its age.

It never calls a provider: values come from the shared cache that context-poll fills, so a slow or
dead provider cannot slow the pipeline; its events carry the stale value or null instead.
"""

from __future__ import annotations

from ingestor import settings, subjects
from ingestor.context import enrich
from ingestor.context.settings import Enrichment
from ingestor.stage import Stage

STAGE = Stage("weather-enrich", subjects.NORMALIZED, enrich.an_object, target=subjects.ENRICHED,
              amend=enrich.Enricher(settings.load(Enrichment)).attach_all)
handle, health = STAGE.handle, STAGE.health
