"""context-poll's handler: the cron's POST polls the due sources (a stand-in for the providers); GET /config and
/status describe them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.function import invoke, load_handler
from tests.support.providers import ProviderServer


@pytest.fixture()
def providers(process: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderServer]:
    server = ProviderServer()
    for name, value in {"OPEN_METEO_URL": server.url, "CONTEXT_LATITUDE": "51.5", "CONTEXT_LONGITUDE": "-0.12"}.items():
        monkeypatch.setenv(name, value)
    yield server
    server.close()


def test_the_crons_post_fetches_what_is_due_and_status_says_so(providers: ProviderServer) -> None:
    handler = load_handler("context-poll")
    status, polled = invoke(handler, "POST", "/")
    assert status == 200 and polled == {"weather": {"result": "fetched", "error": None, "samples": polled["weather"][
        "samples"]}} and polled["weather"]["samples"] > 0
    status, shown = invoke(handler, "GET", "/status")
    assert status == 200 and shown["weather"]["breaker"] == "closed" and shown["weather"]["fetched_at"]
    assert handler.health() == {"status": "ok", "degraded": [], "problems": {}}


def test_config_names_each_source_and_its_provider(providers: ProviderServer) -> None:
    status, shown = invoke(load_handler("context-poll"), "GET", "/config")
    assert status == 200 and shown["sources"] == {"weather": {"provider": "open-meteo", "refresh_s": 900.0}}


def test_what_is_not_a_route_is_404_and_a_read_route_refuses_other_methods(providers: ProviderServer) -> None:
    handler = load_handler("context-poll")
    assert invoke(handler, "POST", "/poll-now")[0] == 404
    assert invoke(handler, "DELETE", "/config")[0] == 405
