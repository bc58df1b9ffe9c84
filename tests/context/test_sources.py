"""Each source reads its provider's real response format into one shape, and refuses anything else."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ingestor.context.airquality import OpenMeteoAirQuality
from ingestor.context.carbon import CarbonIntensity
from ingestor.context.electricity import OctopusAgile
from ingestor.context.model import Location, SourceError
from ingestor.context.weather import OpenMeteoWeather, OpenWeatherMap
from tests.support.providers import recorded

HOME = Location(51.5, -0.12)
AT = dt.datetime(2026, 11, 23, 18, 45, tzinfo=dt.UTC)


def test_open_meteo_weather() -> None:
    assert OpenMeteoWeather().parse(recorded("open_meteo_forecast.json")) == {
        "temperature": 7.3, "humidity": 87.0, "pressure": 1009.6, "condition": "rain", "wind_speed": 4.1}


def test_open_meteo_weather_asks_for_current_values_in_metres_per_second() -> None:
    request = OpenMeteoWeather("http://x").request(HOME)
    assert request.url == "http://x/v1/forecast"
    assert request.params["wind_speed_unit"] == "ms" and "temperature_2m" in request.params["current"]
    assert (request.params["latitude"], request.params["longitude"]) == (51.5, -0.12)


def test_openweathermap_weather() -> None:
    assert OpenWeatherMap("k").parse(recorded("openweathermap_weather.json")) == {
        "temperature": 7.42, "humidity": 88.0, "pressure": 1010.0, "condition": "light rain", "wind_speed": 4.12}


def test_openweathermap_sends_its_key_and_metric_units() -> None:
    request = OpenWeatherMap("secret-key").request(HOME)
    assert request.params == {"lat": 51.5, "lon": -0.12, "units": "metric", "appid": "secret-key"}


def test_open_meteo_air_quality() -> None:
    assert OpenMeteoAirQuality().parse(recorded("open_meteo_air_quality.json")) == {
        "aqi": 31.0, "us_aqi": 44.0, "pm2_5": 9.6, "pm10": 14.2, "ozone": 38.0}


def test_carbon_intensity_national_prefers_the_actual_value() -> None:
    assert CarbonIntensity().parse(recorded("carbon_intensity.json")) == {
        "intensity": 209.0, "index": "moderate", "period_from": "2026-11-23T18:30Z", "period_to": "2026-11-23T19:00Z"}


def test_carbon_intensity_regional_uses_the_forecast() -> None:
    parsed = CarbonIntensity().parse(recorded("carbon_intensity_regional.json"))
    assert (parsed["intensity"], parsed["index"]) == (188.0, "moderate")
    assert CarbonIntensity("http://x").request(Location(51.5, -0.12, "RG10")).url == "http://x/regional/postcode/RG10"


def test_octopus_agile_picks_the_rate_valid_now() -> None:
    source = OctopusAgile("AGILE-24-10-01", "E-1R-AGILE-24-10-01-C", clock=lambda: AT)
    assert source.parse(recorded("octopus_agile_unit_rates.json")) == {
        "price": 32.76, "price_exc_vat": 31.2, "valid_from": "2026-11-23T18:30:00Z", "valid_to": "2026-11-23T19:00:00Z"}
    request = source.request(HOME)
    assert request.url.endswith("/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/"
                                "standard-unit-rates/")
    assert request.params == {"period_from": "2026-11-23T17:45:00Z", "period_to": "2026-11-23T19:45:00Z"}


def test_octopus_without_a_rate_for_now_is_an_error() -> None:
    later = OctopusAgile("P", "T", clock=lambda: AT + dt.timedelta(days=1))
    with pytest.raises(SourceError, match="no unit rate is valid now"):
        later.parse(recorded("octopus_agile_unit_rates.json"))


@pytest.mark.parametrize("source", [OpenMeteoWeather(), OpenWeatherMap("k"), OpenMeteoAirQuality(), CarbonIntensity(),
                                    OctopusAgile("P", "T", clock=lambda: AT)])
@pytest.mark.parametrize("garbage", [{}, [], "text", {"current": {"temperature_2m": "warm"}}, {"data": []},
                                     {"results": [{"valid_from": "x"}]}, None])
def test_wrong_shapes_are_a_source_error(source: Any, garbage: Any) -> None:
    with pytest.raises(SourceError):
        source.parse(garbage)
