"""`make demo` has no Internet: its own offline weather answers context-poll in Open-Meteo's format, so the
demo's context sources fetch and health calls them ok instead of opening their breakers after three minutes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.weather import OfflineWeather, air_quality, forecast
from ingestor.context.airquality import OpenMeteoAirQuality
from ingestor.context.model import Location
from ingestor.context.weather import OpenMeteoWeather
from tests.health.support import component, status
from tests.support.http import call
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime, stack_of

AMSTERDAM = Location(52.3731, 4.8922)  # the demo home's location (demo/home.py)


@pytest.fixture()
def weather() -> Iterator[OfflineWeather]:
    server = OfflineWeather()
    yield server
    server.close()


def test_its_answers_read_as_open_meteo_s_own_and_follow_the_time_of_day() -> None:
    night, afternoon = (dt.datetime(2026, 11, 30, h, 0, tzinfo=dt.UTC) for h in (3, 15))
    cold, warm = (OpenMeteoWeather().parse(forecast(52.37, 4.89, t)) for t in (night, afternoon))
    assert cold["temperature"] < warm["temperature"] and {cold["condition"], warm["condition"]} == {
        "overcast", "partly cloudy"}
    values = OpenMeteoAirQuality().parse(air_quality(52.37, 4.89, afternoon))
    assert set(values) == {"aqi", "us_aqi", "pm2_5", "pm10", "ozone"} and all(v > 0 for v in values.values())


def test_it_answers_the_requests_the_sources_make(weather: OfflineWeather) -> None:
    for source in (OpenMeteoWeather(weather.url), OpenMeteoAirQuality(weather.url)):
        request = source.request(AMSTERDAM)
        query = "&".join(f"{k}={v}" for k, v in request.params.items())
        reply = call("GET", f"{request.url}?{query}")
        assert reply.status == 200 and source.parse(reply.json())
    assert call("GET", f"{weather.url}/v1/forecast").status == 400


@pytest.mark.integration
def test_the_stack_s_context_poll_fetches_it_and_health_calls_both_sources_ok(weather: OfflineWeather,
                                                                              tmp_path: Path) -> None:
    """stack.yml's own context-poll and health (the demo's configuration): OPEN_METEO_URL reaches the function."""
    stack = stack_of(tmp_path / "stack.demo-weather.yml", ("context-poll", "health"))
    env = {**weather.env(), "CONTEXT_LATITUDE": str(AMSTERDAM.latitude), "CONTEXT_LONGITUDE": str(AMSTERDAM.longitude)}
    with LocalRuntime(tmp_path, stack=stack, env=env) as runtime:
        polled = runtime.signed_call("POST", "context-poll").json()
        assert {name: p["result"] for name, p in polled.items()} == {"weather": "fetched", "air_quality": "fetched"}
        url = f"{runtime.gateway}/function/health"
        body = wait_for(lambda: (b := status(url)) and component(b, "context:weather")["status"] == "ok" and b, 30)
        assert body, status(url)
        for name in ("context:weather", "context:air_quality"):
            assert (component(body, name)["status"], component(body, name)["reasons"]) == ("ok", [])
