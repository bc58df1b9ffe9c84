"""sports-poll (cron): fetches the followed teams' games from ESPN's scoreboard, stores them in the metadata DB,
publishes game_started / score_changed / game_ended on sports.events and the scores as series. The routes live in
ingestor.sports.api."""

from __future__ import annotations

from ingestor.sports import api

UNSIGNED_READS = api.UNSIGNED_READS
handle, health = api.API.handle, api.health
