"""The poller against a real nats-server (the shared cache is a JetStream key-value bucket) and a local
stand-in for the providers: cache hits, outages, slowness and garbage."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from ingestor import bus, metadata
from ingestor.context import api, cache, settings
from ingestor.context.model import Location
from ingestor.context.poller import Poller
from localfaas.natsserver import NatsServer
from tests.support.providers import ProviderServer

pytestmark = pytest.mark.integration
HOME = Location(51.5, -0.12)
KEY = "owm-0123456789abcdef"


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server.url


@pytest.fixture()
def providers() -> Iterator[ProviderServer]:
    server = ProviderServer()
    yield server
    server.close()


@pytest.fixture()
def poller_for(nats_url: str, providers: ProviderServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A poller on a fresh key-value bucket, configured by env as the function is."""
    monkeypatch.setenv("NATS_URL", nats_url)
    monkeypatch.setattr(bus, "_default", None)
    monkeypatch.setattr(cache, "BUCKET", f"ctx{time.monotonic_ns()}")
    (tmp_path / "openweathermap-api-key").write_text(KEY)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    for name in ("OPEN_METEO_URL", "OPEN_METEO_AIR_QUALITY_URL", "OPENWEATHERMAP_URL", "CARBON_INTENSITY_URL",
                 "OCTOPUS_URL"):
        monkeypatch.setenv(name, providers.url)
    monkeypatch.setenv("OCTOPUS_PRODUCT", "AGILE-24-10-01")
    monkeypatch.setenv("OCTOPUS_TARIFF", "E-1R-AGILE-24-10-01-C")
    monkeypatch.setenv("CONTEXT_TIMEOUT_S", "2")
    published: list[dict[str, Any]] = []

    def make(**env: str) -> tuple[Poller, list[dict[str, Any]]]:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return Poller(settings.load(), published.extend), published

    yield make
    bus.default().close()


ALL = "weather,air_quality,carbon_intensity,electricity_price"


def test_every_source_is_fetched_cached_and_published_as_series(poller_for: Any, providers: ProviderServer) -> None:
    poller, published = poller_for(CONTEXT_SOURCES=ALL)
    outcomes = {o.source: o.result for o in poller.poll(HOME)}
    assert outcomes == dict.fromkeys(ALL.split(","), "fetched")
    known = cache.read_all()
    assert known["weather"]["values"]["temperature"] == 7.3
    assert known["air_quality"]["values"]["pm2_5"] == 9.6
    assert known["carbon_intensity"]["values"]["intensity"] == 209.0
    assert isinstance(known["electricity_price"]["values"]["price"], float)
    series = {r["entity_id"]: r for r in published}
    assert series["context.weather_temperature"]["state_value"] == 7.3
    assert series["context.weather_temperature"]["unit"] == "celsius"
    assert {"context.air_quality_pm2_5", "context.carbon_intensity_intensity",
            "context.electricity_price_price"} <= set(series)


def test_a_cached_value_makes_no_request(poller_for: Any, providers: ProviderServer) -> None:
    poller, _ = poller_for(CONTEXT_SOURCES=ALL)
    poller.poll(HOME)
    before = providers.total()
    assert {o.result for o in poller.poll(HOME)} == {"cached"}
    assert providers.total() == before == 4


def test_a_value_older_than_its_refresh_is_fetched_again(poller_for: Any, providers: ProviderServer) -> None:
    poller, _ = poller_for(CONTEXT_SOURCES="weather", WEATHER_REFRESH_S="900")
    poller.poll(HOME)
    assert [o.result for o in poller.poll(HOME, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16))] == ["fetched"]
    assert providers.requests["/v1/forecast"] == 2


@pytest.mark.parametrize(("mode", "error"), [("down", "HTTP 503"), ("garbage", "answer is not JSON"),
                                             ("wrong_shape", "missing current.weather_code"),
                                             ("slow", "no answer within 2 s")])
def test_a_failing_provider_is_a_failed_poll_with_its_reason(poller_for: Any, providers: ProviderServer, mode: str,
                                                             error: str) -> None:
    poller, published = poller_for(CONTEXT_SOURCES="weather")
    providers.mode = mode
    started = time.monotonic()
    (outcome,) = poller.poll(HOME)
    assert (outcome.result, outcome.error) == ("failed", error)
    assert time.monotonic() - started < providers.slow_s  # bounded by the timeout, not by the provider
    assert published == [] and "weather" not in cache.read_all()
    assert cache.read_all()["status.weather"]["error"] == error


def test_the_breaker_opens_then_a_trial_closes_it_when_the_provider_is_back(
        poller_for: Any, providers: ProviderServer) -> None:
    poller, _ = poller_for(CONTEXT_SOURCES="weather", CONTEXT_BREAKER_THRESHOLD="2", CONTEXT_BREAKER_RESET_S="0.5")
    providers.mode = "down"
    assert [poller.poll(HOME)[0].result for _ in range(2)] == ["failed", "failed"]
    assert poller.poll(HOME)[0].result == "breaker_open"
    assert providers.total() == 2  # an open breaker costs the provider nothing
    assert cache.read_all()["status.weather"]["breaker"] == "open"
    providers.mode = "ok"
    time.sleep(0.6)
    assert poller.poll(HOME)[0].result == "fetched"
    assert poller.breakers["weather"].state == "closed"


def test_an_open_breaker_is_taken_up_by_the_next_process(poller_for: Any, providers: ProviderServer) -> None:
    """context-poll is stopped between cron ticks: the next process must not call a provider its breaker shut."""
    first, _ = poller_for(CONTEXT_SOURCES="weather", CONTEXT_BREAKER_THRESHOLD="2", CONTEXT_BREAKER_RESET_S="300")
    providers.mode = "down"
    assert [first.poll(HOME)[0].result for _ in range(2)] == ["failed", "failed"]
    second, _ = poller_for()
    assert second.poll(HOME)[0].result == "breaker_open"
    assert providers.total() == 2
    assert second.breakers["weather"].last_error == first.breakers["weather"].last_error


def test_a_new_process_reports_the_breaker_it_took_up(poller_for: Any, providers: ProviderServer) -> None:
    first, _ = poller_for(CONTEXT_SOURCES="weather", CONTEXT_BREAKER_THRESHOLD="1", CONTEXT_BREAKER_RESET_S="300")
    providers.mode = "down"
    first.poll(HOME)
    second, _ = poller_for()
    second.recall(cache.read_all())
    assert (second.breakers["weather"].state, second.breakers["weather"].failures) == ("open", 1)


def test_an_openweathermap_key_never_shows_in_errors_status_or_config(poller_for: Any,
                                                                     providers: ProviderServer) -> None:
    poller, _ = poller_for(CONTEXT_SOURCES="weather", WEATHER_PROVIDER="openweathermap")
    (outcome,) = poller.poll(HOME)
    assert outcome.result == "fetched" and f"appid={KEY}" in providers.queries[-1]
    providers.mode = "down"
    poller.poll(HOME, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    shown = str(cache.read_all()) + str(settings.describe(poller.settings))
    assert KEY not in shown
    assert settings.describe(poller.settings)["sources"]["weather"]["api_key"] == "****************cdef"


def test_openweathermap_without_a_key_is_reported_not_run(poller_for: Any, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("OPENWEATHERMAP_API_KEY", raising=False)
    poller, _ = poller_for(CONTEXT_SOURCES="weather,air_quality", WEATHER_PROVIDER="openweathermap")
    assert list(poller.settings.sources) == ["air_quality"]
    assert "openweathermap-api-key" in poller.settings.problems["weather"]


def test_each_source_may_have_its_own_timeout(poller_for: Any, providers: ProviderServer) -> None:
    poller, _ = poller_for(CONTEXT_SOURCES="weather,air_quality", AIR_QUALITY_TIMEOUT_S="0.3")
    assert poller.settings.timeout_s == {"weather": 2.0, "air_quality": 0.3}
    providers.mode = "slow"
    errors = {o.source: o.error for o in poller.poll(HOME)}
    assert errors == {"weather": "no answer within 2 s", "air_quality": "no answer within 0.3 s"}


def test_without_a_location_nothing_is_fetched(poller_for: Any, providers: ProviderServer) -> None:
    poller, _ = poller_for(CONTEXT_SOURCES="weather")
    assert poller.poll(None)[0].result == "no_location"
    assert providers.total() == 0


def test_the_location_comes_from_home_assistant_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTEXT_LATITUDE", raising=False)
    monkeypatch.delenv("CONTEXT_LONGITUDE", raising=False)
    assert settings.location({"latitude": 52.37, "longitude": 4.89}) == Location(52.37, 4.89)
    assert settings.location(None) is None
    monkeypatch.setenv("CONTEXT_LATITUDE", "1.5")
    monkeypatch.setenv("CONTEXT_LONGITUDE", "2.5")
    assert settings.location({"latitude": 52.37, "longitude": 4.89}) == Location(1.5, 2.5)


def test_every_poll_reads_home_assistants_location_through_the_same_metadata_connection(
        poller_for: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """context-poll runs every minute for years: a database engine per poll would leak a connection each time."""
    poller_for(CONTEXT_SOURCES="weather")
    monkeypatch.setenv("METADATA_DB_URL", f"sqlite:///{tmp_path / 'metadata.db'}")
    metadata.shared.cache_clear()
    api.poller.cache_clear()
    opened: list[object] = []

    def connected(*_: object) -> None:
        opened.append(_)

    event.listen(Pool, "connect", connected)
    try:
        for _ in range(5):
            api.API.handle(SimpleNamespace(method="POST", path="/", query={}, headers={}, body=b""))
    finally:
        event.remove(Pool, "connect", connected)
        metadata.shared.cache_clear()
        api.poller.cache_clear()
    assert len(opened) == 1
