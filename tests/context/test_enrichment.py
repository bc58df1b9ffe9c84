"""weather-enrich and context-poll through the real local runtime and NATS, providers stood in for."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ingestor import subjects
from ingestor.store import open_event_store
from ingestor.store.model import EventFilter
from tests.support.ha_events import many
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.polling import wait_for
from tests.support.providers import ProviderServer
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration
SOURCES = {"weather", "air_quality", "carbon_intensity", "electricity_price"}


@pytest.fixture(scope="module")
def providers() -> Iterator[ProviderServer]:
    server = ProviderServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, providers: ProviderServer) -> Iterator[LocalRuntime]:
    workdir = tmp_path_factory.mktemp("runtime")
    with LocalRuntime(workdir, env={"TEST_PROVIDER_URL": providers.url,
                                    "TEST_ATTEMPTS_FILE": str(workdir / "attempts"),
                                    "TEST_PROBE_FILE": str(workdir / "probe")}) as rt:
        yield rt


REFRESH_S = 2.0
"""Every source's refresh interval in tests/stack.test.yml (WEATHER_REFRESH_S...): a value is stale past it."""


def poll(runtime: LocalRuntime) -> dict:
    reply = runtime.signed_call("POST", "context-poll")
    assert reply.status == 200, reply.body
    return reply.json()


def enriched(js: JetStreamClient, batch: str) -> list[dict]:
    return [e for m in js.messages(subjects.ENRICHED) if m["batch_id"] == f"{batch}:weather-enrich"
            for e in m["events"]]


def test_a_batch_arrives_enriched_with_every_source_and_the_series_are_stored(
        runtime: LocalRuntime, js: JetStreamClient) -> None:
    assert {name: r["result"] for name, r in poll(runtime).items()} == dict.fromkeys(SOURCES, "fetched")
    js.publish_batch(subjects.RAW, "enrich-1", many(5, prefix="sensor.enriched"))
    events = wait_for(lambda: enriched(js, "enrich-1"), 30)
    assert len(events) == 5
    weather = events[0]["weather"]
    assert (weather["temperature"], weather["condition"], weather["provider"]) == (7.3, "rain", "open-meteo")
    # fresh unless the pipeline took longer than the refresh interval (a loaded machine): age_s is rounded to 0.1 s
    assert weather["age_s"] >= REFRESH_S if weather["stale"] else weather["age_s"] <= REFRESH_S, weather
    assert events[0]["air_quality"]["pm2_5"] == 9.6
    assert events[0]["carbon_intensity"]["intensity"] == 209.0
    assert isinstance(events[0]["electricity_price"]["price"], float)
    store = open_event_store(f"sqlite:///{runtime.workdir}/data/events.db")
    assert wait_for(lambda: store.count(EventFilter(entity_id="context.weather_temperature")) >= 1, 30)
    assert wait_for(lambda: store.count(EventFilter(text="sensor.enriched")) == 5, 30)
    (stored,) = store.query(EventFilter(entity_id="sensor.enriched_0")).items
    assert stored["weather"]["temperature"] == 7.3 and stored["air_quality"]["aqi"] == 31.0


def test_with_providers_down_events_flow_with_stale_values_marked_and_the_breaker_opens(
        runtime: LocalRuntime, js: JetStreamClient, providers: ProviderServer) -> None:
    poll(runtime)
    time.sleep(2.2)  # every value is now older than its 2 s refresh interval
    providers.mode = "down"
    results = [poll(runtime) for _ in range(3)]
    assert {r["result"] for r in results[0].values()} == {"failed"}
    status = call("GET", f"{runtime.gateway}/function/context-poll/status").json()
    assert {s["breaker"] for s in status.values()} == {"open"}
    assert set(call("GET", f"{runtime.ready['functions']['context-poll']}/_/health").json()["degraded"]) == SOURCES
    asked = providers.total()
    assert {r["result"] for r in poll(runtime).values()} == {"breaker_open"}
    for b in range(20):
        js.publish_batch(subjects.RAW, f"degraded-{b}", many(10, prefix=f"sensor.degraded{b}"))

    def all_arrived() -> list[dict] | None:
        events = [e for b in range(20) for e in enriched(js, f"degraded-{b}")]
        return events if len(events) == 200 else None

    arrived = wait_for(all_arrived, 60)
    assert arrived, "not every event arrived enriched"
    assert all(e["weather"]["stale"] and e["weather"]["temperature"] == 7.3 for e in arrived)
    assert all(e["weather"]["age_s"] >= 2 for e in arrived)
    assert providers.total() == asked  # neither the open breakers nor enrichment called a provider
    providers.mode = "ok"


def test_the_config_endpoint_lists_sources_and_masks_secrets(runtime: LocalRuntime) -> None:
    shown = call("GET", f"{runtime.gateway}/function/context-poll/config").json()
    assert set(shown["sources"]) == SOURCES
    assert shown["sources"]["weather"] == {"provider": "open-meteo", "refresh_s": 2.0}
