"""Air quality from Open-Meteo's air-quality API: European and US AQI, PM2.5, PM10, ozone."""

from __future__ import annotations

from typing import Any

from ingestor.context.model import Location, Metric, Request, number

_FIELDS = {"aqi": "european_aqi", "us_aqi": "us_aqi", "pm2_5": "pm2_5", "pm10": "pm10", "ozone": "ozone"}


class OpenMeteoAirQuality:
    key = "air_quality"
    provider = "open-meteo"
    metrics = (
        Metric("aqi", None, "European air quality index"),
        Metric("pm2_5", "microgram_per_cubic_meter", "PM2.5"),
        Metric("pm10", "microgram_per_cubic_meter", "PM10"),
        Metric("ozone", "microgram_per_cubic_meter", "Ozone"),
    )

    def __init__(self, base_url: str = "https://air-quality-api.open-meteo.com", refresh_s: float = 3600) -> None:
        self.base_url = base_url.rstrip("/")
        self.refresh_s = refresh_s

    def request(self, location: Location) -> Request:
        return Request(f"{self.base_url}/v1/air-quality", {
            "latitude": location.latitude, "longitude": location.longitude,
            "current": ",".join(_FIELDS.values()), "timezone": "UTC"})

    def parse(self, doc: Any) -> dict[str, Any]:
        return {ours: number(doc, "current", theirs) for ours, theirs in _FIELDS.items()}
