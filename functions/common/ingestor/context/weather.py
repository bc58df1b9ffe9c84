"""Weather: Open-Meteo (keyless, the default) and OpenWeatherMap (API key), both to one shape:
temperature (°C), humidity (%), pressure (hPa), condition (text), wind_speed (m/s)."""

from __future__ import annotations

from typing import Any

from ingestor.context.model import Location, Metric, Request, SourceError, number

METRICS = (
    Metric("temperature", "celsius", "Outdoor temperature"),
    Metric("humidity", "percent", "Outdoor humidity"),
    Metric("pressure", "hectopascal", "Air pressure"),
    Metric("wind_speed", "meter_per_second", "Wind speed"),
)

# WMO weather interpretation codes, as Open-Meteo documents them.
_WMO = {0: "clear", 1: "mainly clear", 2: "partly cloudy", 3: "overcast", 45: "fog", 48: "fog",
        51: "drizzle", 53: "drizzle", 55: "drizzle", 56: "freezing drizzle", 57: "freezing drizzle",
        61: "rain", 63: "rain", 65: "heavy rain", 66: "freezing rain", 67: "freezing rain",
        71: "snow", 73: "snow", 75: "heavy snow", 77: "snow grains", 80: "rain showers", 81: "rain showers",
        82: "violent rain showers", 85: "snow showers", 86: "snow showers", 95: "thunderstorm",
        96: "thunderstorm with hail", 99: "thunderstorm with hail"}


class OpenMeteoWeather:
    key = "weather"
    provider = "open-meteo"
    metrics = METRICS

    def __init__(self, base_url: str = "https://api.open-meteo.com", refresh_s: float = 900) -> None:
        self.base_url = base_url.rstrip("/")
        self.refresh_s = refresh_s

    def request(self, location: Location) -> Request:
        return Request(f"{self.base_url}/v1/forecast", {
            "latitude": location.latitude, "longitude": location.longitude,
            "current": "temperature_2m,relative_humidity_2m,pressure_msl,weather_code,wind_speed_10m",
            "wind_speed_unit": "ms", "timezone": "UTC"})

    def parse(self, doc: Any) -> dict[str, Any]:
        code = int(number(doc, "current", "weather_code"))
        return {"temperature": number(doc, "current", "temperature_2m"),
                "humidity": number(doc, "current", "relative_humidity_2m"),
                "pressure": number(doc, "current", "pressure_msl"),
                "condition": _WMO.get(code, f"wmo {code}"),
                "wind_speed": number(doc, "current", "wind_speed_10m")}


class OpenWeatherMap:
    key = "weather"
    provider = "openweathermap"
    metrics = METRICS

    def __init__(self, api_key: str, base_url: str = "https://api.openweathermap.org", refresh_s: float = 900) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.refresh_s = refresh_s

    def request(self, location: Location) -> Request:
        return Request(f"{self.base_url}/data/2.5/weather", {
            "lat": location.latitude, "lon": location.longitude, "units": "metric", "appid": self.api_key})

    def parse(self, doc: Any) -> dict[str, Any]:
        try:
            condition = str(doc["weather"][0]["description"])
        except (KeyError, IndexError, TypeError):
            raise SourceError("missing weather.0.description") from None
        return {"temperature": number(doc, "main", "temp"), "humidity": number(doc, "main", "humidity"),
                "pressure": number(doc, "main", "pressure"), "condition": condition,
                "wind_speed": number(doc, "wind", "speed")}
