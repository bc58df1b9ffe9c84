"""The demo's own weather, offline: a local server that answers Open-Meteo's forecast and air-quality requests in
their real format, with values made up from the time of day (a mild late-autumn day by the North Sea).

`make demo` runs without Internet access, and context-poll would otherwise poll the real Open-Meteo, fail three
times and open its breakers: the demo turning degraded after three minutes for want of a network it never had.
Pointing OPEN_METEO_URL and OPEN_METEO_AIR_QUALITY_URL here keeps the whole context path real (context-poll's
fetch, parse, breaker and cache; the samples in the store; the weather on every event) with weather that is made
up, as the home and its driver are.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import math
import threading
import urllib.parse
from typing import Any


def _day(now: dt.datetime) -> float:
    """-1 before dawn .. 1 mid-afternoon (the warmest hour, 15:00 UTC)."""
    hours = now.hour + now.minute / 60
    return math.cos((hours - 15) / 24 * 2 * math.pi)


def forecast(latitude: float, longitude: float, now: dt.datetime) -> dict[str, Any]:
    """Open-Meteo's /v1/forecast answer (`current=temperature_2m,…`, wind in m/s) for `now`."""
    day = _day(now)
    return {"latitude": latitude, "longitude": longitude, "generationtime_ms": 0.02, "utc_offset_seconds": 0,
            "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 2.0,
            "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                              "relative_humidity_2m": "%", "pressure_msl": "hPa", "weather_code": "wmo code",
                              "wind_speed_10m": "m/s"},
            "current": {"time": now.strftime("%Y-%m-%dT%H:%M"), "interval": 900,
                        "temperature_2m": round(8.5 + 3.5 * day, 1),
                        "relative_humidity_2m": round(82 - 12 * day),
                        "pressure_msl": round(1012.0 + 2.5 * math.sin(now.timestamp() / 43_200), 1),
                        "weather_code": 2 if day > 0 else 3,
                        "wind_speed_10m": round(4.0 + 1.5 * day, 1)}}


def air_quality(latitude: float, longitude: float, now: dt.datetime) -> dict[str, Any]:
    """Open-Meteo's /v1/air-quality answer (`current=european_aqi,us_aqi,pm2_5,pm10,ozone`) for `now`."""
    day = _day(now)
    return {"latitude": latitude, "longitude": longitude, "generationtime_ms": 0.05, "utc_offset_seconds": 0,
            "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 2.0,
            "current_units": {"time": "iso8601", "interval": "seconds", "european_aqi": "EAQI", "us_aqi": "USAQI",
                              "pm10": "μg/m³", "pm2_5": "μg/m³", "ozone": "μg/m³"},
            "current": {"time": now.strftime("%Y-%m-%dT%H:00"), "interval": 3600,
                        "european_aqi": round(24 + 8 * day), "us_aqi": round(38 + 10 * day),
                        "pm10": round(13.0 + 3 * day, 1), "pm2_5": round(8.0 + 2 * day, 1),
                        "ozone": round(45.0 + 15 * day, 1)}}


ANSWERS = {"/v1/forecast": forecast, "/v1/air-quality": air_quality}


class OfflineWeather:
    """Serves ANSWERS on 127.0.0.1 (a free port) until `close`."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path, _, query = self.path.partition("?")
                answer = ANSWERS.get(path)
                params = urllib.parse.parse_qs(query)
                try:
                    latitude, longitude = float(params["latitude"][0]), float(params["longitude"][0])
                except (KeyError, ValueError):
                    answer = None
                status = 200 if answer else 400
                body = json.dumps(answer(latitude, longitude, dt.datetime.now(dt.UTC)) if answer else
                                  {"error": True, "reason": "the demo's weather answers /v1/forecast and "
                                                            "/v1/air-quality with latitude and longitude"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name="demo-weather", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def env(self) -> dict[str, str]:
        """What points the stack's context-poll here (stack.yml passes these through)."""
        return {"OPEN_METEO_URL": self.url, "OPEN_METEO_AIR_QUALITY_URL": self.url}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
