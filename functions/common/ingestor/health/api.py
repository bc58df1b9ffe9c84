"""The health function's HTTP API: every component's status, the pipeline's lag and dead letters, the configuration.

GET / (or /status) answers 200 whatever it finds: the body's `status` says how the system is, and the function's
own /_/health stays ok while it can answer, so it is not restarted exactly when it is needed. `?strict=true`
answers 503 when the system is unhealthy, for uptime monitors that read only the code.
"""

from __future__ import annotations

import functools
from typing import Any

from ingestor.alerts import api as alerts
from ingestor.health import masking, schemas, settings
from ingestor.health.system import HealthSystem
from ingestor.httpapi import Api, Param, Request, Route
from ingestor.responses import json_response


@functools.cache
def system() -> HealthSystem:
    masking.register_secret_files()
    return HealthSystem(settings.load())


def _status(request: Request) -> Any:
    body = system().status()
    if request.params["strict"] and body["status"] == "unhealthy":
        return json_response(body, 503)
    return body


STRICT = Param("strict", "answer 503 when the system is unhealthy", kind="boolean", default=False)
API = Api(
    "HA Ingestor health", "1.0",
    "Every component's status with its reasons, the pipeline's per-stage lag, throughput and dead letters, "
    "and the system's configuration with every secret masked. Rules: docs/health.md.",
    [
        Route("GET", "/", _status, "Every component's status; overall = the worst", params=(STRICT,),
              response=schemas.STATUS, tag="health"),
        Route("GET", "/status", _status, "Same as GET /", params=(STRICT,), response=schemas.STATUS, tag="health"),
        Route("GET", "/pipeline", lambda _: system().pipeline(), "Per-stage lag and throughput, dead letters",
              response=schemas.PIPELINE, tag="health"),
        Route("GET", "/config", lambda _: system().config(), "The system's configuration, secrets masked",
              response=schemas.CONFIG, tag="health"),
        *alerts.routes(lambda: system().deps.event_store, lambda: system().status()),
    ],
    components=schemas.COMPONENTS,
    key=alerts.KEY,
)


UNSIGNED_READS = ("/", "/status", "/pipeline", "/config", "/openapi.json", *alerts.UNSIGNED_READS)
"""With REQUIRE_CONNECTOR_SIGNATURE=true (stack.yml), every other call (the cron's POST /) must be signed..."""
KEYED_CALLS = API.keyed_calls()
"""...but PUT /alerts/thresholds, a person's call, checked against the alerts-api-key instead."""


def health() -> dict[str, Any]:
    """This function is healthy while it can answer; what it finds about the others is in GET /."""
    return {"status": "ok"}
