"""A stand-in for the weather, air-quality, carbon and price APIs, which cannot be reached from here.

It serves recorded responses in each API's real format by path, counts requests, and can be told to
be down (503), slow (sleeps past the client's timeout) or to answer garbage. Octopus unit rates are
re-dated around the current half hour, keeping their format, so "the price valid now" exists.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from tests.support.standin import StandIn

RECORDED = Path(__file__).resolve().parents[1] / "context" / "recorded"
ROUTES = {
    "/v1/forecast": "open_meteo_forecast.json",
    "/v1/air-quality": "open_meteo_air_quality.json",
    "/data/2.5/weather": "openweathermap_weather.json",
    "/intensity": "carbon_intensity.json",
}


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def agile_now(now: dt.datetime | None = None) -> dict[str, Any]:
    """The recorded Agile answer with its four half hours moved to surround `now`."""
    doc = recorded("octopus_agile_unit_rates.json")
    now = now or dt.datetime.now(dt.UTC)
    start = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0) - dt.timedelta(minutes=30)
    for i, rate in enumerate(reversed(doc["results"])):
        begin = start + dt.timedelta(minutes=30 * i)
        rate["valid_from"] = begin.strftime("%Y-%m-%dT%H:%M:%SZ")
        rate["valid_to"] = (begin + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return doc


class ProviderServer(StandIn):
    def __init__(self) -> None:
        super().__init__()  # mode: ok | down | slow | garbage | wrong_shape
        self.slow_s = 6.0

    def answer(self, path: str, query: str = "") -> tuple[int, Any]:
        if self.mode == "down":
            return 503, b"<html>503 Service Unavailable</html>"
        if self.mode == "slow":
            time.sleep(self.slow_s)
        if self.mode == "garbage":
            return 200, b"<html>not json"
        if self.mode == "wrong_shape":
            return 200, {"unexpected": True}
        if path in ROUTES:
            return 200, recorded(ROUTES[path])
        if path.startswith("/regional/postcode/"):
            return 200, recorded("carbon_intensity_regional.json")
        if path.endswith("/standard-unit-rates/"):
            return 200, agile_now()
        return 404, {"detail": "Not found."}
