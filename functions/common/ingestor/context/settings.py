"""Which context sources run, against which provider, for which place, from env and secrets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestor import config
from ingestor.context.airquality import OpenMeteoAirQuality
from ingestor.context.carbon import CarbonIntensity
from ingestor.context.electricity import OctopusAgile
from ingestor.context.model import Location, Source
from ingestor.context.weather import OpenMeteoWeather, OpenWeatherMap
from ingestor.record import CONTEXT_SOURCES
from ingestor.settings import setting

SOURCES = CONTEXT_SOURCES


@dataclass(frozen=True)
class Settings:
    sources: dict[str, Source]
    problems: dict[str, str]  # a requested source that cannot run, and why
    timeout_s: dict[str, float]
    breaker_threshold: int
    breaker_reset_s: float
    rate_per_min: dict[str, float]


def _weather() -> Source:
    refresh = config.env_float("WEATHER_REFRESH_S", 900)
    if config.env_str("WEATHER_PROVIDER", "open-meteo") == "openweathermap":
        key = config.secret("openweathermap-api-key", "OPENWEATHERMAP_API_KEY")
        if not key:
            raise config.ConfigError("openweathermap needs the secret openweathermap-api-key")
        return OpenWeatherMap(key, config.env_str("OPENWEATHERMAP_URL", "https://api.openweathermap.org"), refresh)
    return OpenMeteoWeather(config.env_str("OPEN_METEO_URL", "https://api.open-meteo.com"), refresh)


def _build(name: str) -> Source:
    if name == "weather":
        return _weather()
    if name == "air_quality":
        return OpenMeteoAirQuality(config.env_str("OPEN_METEO_AIR_QUALITY_URL", "https://air-quality-api.open-meteo.com"),
                                   config.env_float("AIR_QUALITY_REFRESH_S", 3600))
    if name == "carbon_intensity":
        return CarbonIntensity(config.env_str("CARBON_INTENSITY_URL", "https://api.carbonintensity.org.uk"),
                               config.env_float("CARBON_INTENSITY_REFRESH_S", 1800))
    if name == "electricity_price":
        product, tariff = config.env_str("OCTOPUS_PRODUCT"), config.env_str("OCTOPUS_TARIFF")
        if not product or not tariff:
            raise config.ConfigError("electricity_price needs OCTOPUS_PRODUCT and OCTOPUS_TARIFF")
        return OctopusAgile(product, tariff, config.env_str("OCTOPUS_URL", "https://api.octopus.energy"),
                            config.env_float("ELECTRICITY_PRICE_REFRESH_S", 1800))
    raise config.ConfigError(f"unknown context source {name!r}; known: {', '.join(SOURCES)}")


def load() -> Settings:
    """CONTEXT_SOURCES (default weather,air_quality: the two that need no account and work anywhere)."""
    sources: dict[str, Source] = {}
    problems: dict[str, str] = {}
    for name in config.env_list("CONTEXT_SOURCES", ["weather", "air_quality"]):
        try:
            sources[name] = _build(name)
        except config.ConfigError as exc:
            problems[name] = str(exc)
    owm = sources.get("weather") and sources["weather"].provider == "openweathermap"
    default_timeout = config.env_float("CONTEXT_TIMEOUT_S", 5)
    return Settings(
        sources=sources, problems=problems,
        timeout_s={name: config.env_float(f"{name.upper()}_TIMEOUT_S", default_timeout) for name in sources},
        breaker_threshold=config.env_int("CONTEXT_BREAKER_THRESHOLD", 3),
        breaker_reset_s=config.env_float("CONTEXT_BREAKER_RESET_S", 300),
        rate_per_min={name: config.env_float("OPENWEATHERMAP_RATE_PER_MIN", 60) if name == "weather" and owm
                      else 30.0 for name in sources},
    )


@dataclass(frozen=True)
class Enrichment:
    """What weather-enrich attaches, and how long it reuses what it read from the shared cache."""

    sources: tuple[str, ...] = setting("CONTEXT_SOURCES", ("weather", "air_quality"),
                                       parse=lambda raw: tuple(n.strip() for n in raw.split(",") if n.strip()
                                                               and n.strip() in SOURCES))
    """CONTEXT_SOURCES; names context-poll does not know are left out (it reports them as problems)."""
    cache_s: float = setting("ENRICH_CACHE_S", 5.0)


def location(ha_config: dict[str, Any] | None) -> Location | None:
    """CONTEXT_LATITUDE/CONTEXT_LONGITUDE, else HA's own config as the bridge published it."""
    lat, lon = config.env_str("CONTEXT_LATITUDE"), config.env_str("CONTEXT_LONGITUDE")
    postcode = config.env_str("CARBON_INTENSITY_POSTCODE")
    if lat and lon:
        return Location(config.env_float("CONTEXT_LATITUDE", 0), config.env_float("CONTEXT_LONGITUDE", 0), postcode)
    if ha_config and isinstance(ha_config.get("latitude"), int | float) and isinstance(ha_config.get("longitude"),
                                                                                        int | float):
        return Location(float(ha_config["latitude"]), float(ha_config["longitude"]), postcode)
    return None


def describe(settings: Settings) -> dict[str, Any]:
    """The configuration as the config endpoint shows it: secrets masked to their last 4 characters."""
    shown: dict[str, Any] = {}
    for name, source in settings.sources.items():
        entry: dict[str, Any] = {"provider": source.provider, "refresh_s": source.refresh_s}
        api_key = getattr(source, "api_key", None)
        if api_key:
            entry["api_key"] = config.mask(api_key)
        shown[name] = entry
    return {"sources": shown, "problems": settings.problems, "timeout_s": settings.timeout_s,
            "breaker": {"threshold": settings.breaker_threshold, "reset_s": settings.breaker_reset_s},
            "rate_per_min": settings.rate_per_min}
