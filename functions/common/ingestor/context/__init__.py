"""Context sources: weather, air quality, carbon intensity and electricity price for the home.

Polled by the `context-poll` cron function (never on the hot path), kept in a shared cache (a NATS
JetStream key-value bucket) and written to the event store as series; `weather-enrich` attaches
the latest values to every event.
"""
