"""The Energy view as a person sees it, in Chromium over the real local runtime (query + dashboard): today's
figures per meter and the current power in HA's units, the energy chart spanning exactly the selected range in
kWh with the tariff's cost unit, correlations with their hours, the empty state of a home without an energy
entity, and a phone-width layout where nothing overlaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser

from ingestor.metadata.registry import MetadataDB
from ingestor.store import open_event_store
from tests.dashboard.browser import Tab, just_after_midnight, tab
from tests.dashboard.layout import broken_words, chart_option, label_problems, overflows
from tests.queries import energy_home
from tests.support.http import call
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration
STACK = Path(__file__).resolve().parent / "stack.energy.yml"
DAY_MS = 86400 * 1000
SETTLED = """() => [...document.querySelectorAll('main .chart')].every((c) => c.dataset.rendered === '1')
  && !document.querySelector('main').textContent.includes('Loading…')"""
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def started(workdir: Path, home: energy_home.EnergyHome | None) -> LocalRuntime:
    data = workdir / "data"
    data.mkdir(parents=True)
    if home is not None:
        store = open_event_store(f"sqlite:///{data}/events.db")
        store.write(home.records)
        store.close()
        db = MetadataDB(f"sqlite:///{data}/metadata.db")
        db.apply(energy_home.registry_parts())
        db.engine.dispose()
    return LocalRuntime(workdir, stack=STACK).start(90)


@pytest.fixture(scope="module")
def home() -> energy_home.EnergyHome:
    return energy_home.build()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, home: energy_home.EnergyHome) -> Iterator[LocalRuntime]:
    rt = started(tmp_path_factory.mktemp("energy-view"), home)
    yield rt
    rt.stop()


@pytest.fixture()
def view(browser: Browser, runtime: LocalRuntime) -> Iterator[Tab]:
    """Looked at just after local midnight: "today" has barely begun, and the power sensor reported before it."""
    with tab(browser, f"{runtime.gateway}/function/dashboard/", timezone_id=just_after_midnight()) as t:
        yield t
        assert t.problems == [], "\n".join(t.problems)


def api(runtime: LocalRuntime, path: str) -> dict:
    reply = call("GET", f"{runtime.gateway}/function/query{path}", timeout=30)
    assert reply.status == 200, reply.body[:400]
    return reply.json()


def settled(t: Tab) -> None:
    t.open("energy")
    for chart_id in ("chart-energy", "chart-consumers"):
        t.rendered(chart_id)
    t.page.wait_for_selector("tr[data-factor='temperature']", timeout=30000)
    t.page.wait_for_function(SETTLED, timeout=30000)


def test_today_shows_each_meter_in_kwh_and_the_current_power_in_watts(view: Tab) -> None:
    settled(view)
    total = view.page.inner_text("#energy-total .value")
    assert total.endswith(" kWh")
    meters = view.page.eval_on_selector_all("tr[data-meter]", "rows => rows.map((r) => r.dataset.meter)")
    assert set(meters) == set(energy_home.METERS)
    power = view.page.inner_text(f"[data-power='{energy_home.HEATER}'] .value")
    assert power == "1234.5\u00a0W"
    assert "since" in view.page.inner_text("#energy-total .note")


def test_today_is_the_home_s_day_in_ha_s_time_zone_named_when_it_is_not_the_browser_s(
        browser: Browser, runtime: LocalRuntime) -> None:
    """A home whose date is not UTC's, looked at from a browser in UTC: "today" is the home's day (the API's,
    from its midnight in HA's time zone), named with its zone; from a browser in the home's zone, it is not."""
    metadata_url = f"sqlite:///{runtime.workdir / 'data' / 'metadata.db'}"
    zone = energy_home.a_zone_on_another_day(dt.datetime.now(dt.UTC))
    energy_home.set_home_zone(metadata_url, zone)
    try:
        for browser_zone, named in (("UTC", True), (zone, False)):
            with tab(browser, f"{runtime.gateway}/function/dashboard/", timezone_id=browser_zone) as t:
                settled(t)
                today = api(runtime, "/energy/summary")
                assert today["time_zone"] == {"name": zone, "source": "home_assistant"}
                shown = t.page.evaluate("(v) => `${v.toLocaleString(undefined, {maximumFractionDigits: 3})} kWh`",
                                        today["total_kwh"])
                assert t.page.inner_text("#energy-total .value") == shown
                note = t.page.inner_text("#energy-total .note")
                midnight = t.page.evaluate("() => new Date(2026, 0, 1).toLocaleTimeString([], {hour: '2-digit', "
                                           "minute: '2-digit'})")  # 00:00 as this browser writes it
                assert note.startswith(f"since {midnight}") and (zone in note) == named, note
                assert t.problems == [], "\n".join(t.problems)
    finally:
        energy_home.set_home_zone(metadata_url, None)


def test_the_energy_chart_spans_the_range_in_kwh_with_the_tariff_s_cost_unit(view: Tab, runtime: LocalRuntime) -> None:
    settled(view)
    option = chart_option(view.page, "chart-energy")
    [x], (energy_axis, cost_axis) = option["xAxis"], option["yAxis"]
    assert (x["type"], x["max"] - x["min"]) == ("time", DAY_MS)
    assert (energy_axis["name"], cost_axis["name"]) == ("kWh", "p")
    bars = option["series"][0]["data"]
    assert all(x["min"] <= t <= x["max"] for t, _ in bars)
    note = view.page.inner_text("#energy-note")
    assert "Last 24 hours, per hour" in note and "p/kWh" in note
    hourly = api(runtime, f"/energy/hourly?bucket=1h&start={_iso(x['min'])}&end={_iso(x['max'])}")
    assert sum(v for _, v in bars if v is not None) == pytest.approx(hourly["total_kwh"], abs=1e-6)


def _iso(ms: float) -> str:
    return quote(dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat())


def test_correlations_give_their_coefficient_with_the_hours_behind_it(view: Tab) -> None:
    settled(view)
    rows = view.page.eval_on_selector_all("tr[data-factor]", "rows => rows.map((r) => [r.dataset.factor, "
                                          "[...r.cells].map((c) => c.textContent)])")
    assert [factor for factor, _ in rows] == ["temperature", "price", "carbon_intensity"]
    for _, (name, r, hours, significant) in rows:
        assert int(hours.replace(",", "")) > 0, (name, hours)
        assert r != "—" and ("yes" in significant or "no" in significant)


def test_recommendations_cite_their_figures_and_the_data_behind_them(view: Tab) -> None:
    settled(view)
    view.page.select_option("#range", "-7d")  # the home's two days: a price for every hour of the day twice
    view.page.wait_for_selector("li[data-kind]", timeout=30000)
    items = view.page.eval_on_selector_all("li[data-kind]", "els => els.map((e) => [e.dataset.kind, e.textContent])")
    kinds = {kind for kind, _ in items}
    assert kinds <= {"shift", "unavailable", "temperature"} and "unavailable" in kinds
    assert all("based on:" in text for _, text in items)
    [down] = [text for kind, text in items if kind == "unavailable"]
    assert f"{energy_home.LIVING} has reported 'unavailable' {energy_home.LIVING_DOWN} times" in down
    assert {"shift"} < kinds


def test_the_last_24_hours_are_too_thin_for_a_recommendation_and_it_says_so(view: Tab) -> None:
    settled(view)
    assert "Nothing to recommend from the last 24 hours" in view.page.inner_text("main")


def test_a_device_s_impact_is_shown_with_its_hours_on_and_off(view: Tab) -> None:
    settled(view)
    view.page.select_option("#range", "-7d")
    view.page.wait_for_selector("input[name=device]", timeout=30000)
    view.page.fill("input[name=device]", energy_home.SWITCH)
    view.page.click("text=Show impact")
    view.page.wait_for_selector("#impact-result", timeout=30000)
    win = view.page.evaluate("() => [...document.querySelectorAll('#energy-impact td')].map((c) => c.textContent)")
    assert win[0] == "on" and win[3] == "off"
    assert int(win[1]) >= 3 and int(win[4]) >= 3 and win[2].endswith(" kWh")
    assert "kWh per hour on" in view.page.inner_text("#impact-result")


def test_the_energy_view_at_phone_width_has_nothing_overlapping(browser: Browser, runtime: LocalRuntime) -> None:
    with tab(browser, f"{runtime.gateway}/function/dashboard/", **PHONE) as t:
        settled(t)
        for seen in ("24h", "7d"):
            if seen == "7d":
                t.page.select_option("#range", "-7d")
                t.page.wait_for_selector("li[data-kind]", timeout=30000)
                t.page.wait_for_function(SETTLED, timeout=30000)
            t.shot(f"energy-phone-{seen}")
            found = {"overflows": overflows(t.page), "broken words": broken_words(t.page),
                     "labels": label_problems(t.page), "problems": t.problems,
                     "an element printed as text": "[object " in t.page.inner_text("main")}
            assert {k: v for k, v in found.items() if v} == {}, seen


def test_a_home_without_an_energy_entity_is_told_so_and_shown_no_chart(
        browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    rt = started(tmp_path_factory.mktemp("energy-empty"), None)
    try:
        with tab(browser, f"{rt.gateway}/function/dashboard/") as t:
            t.open("energy")
            t.page.wait_for_selector("#energy-empty", timeout=30000)
            assert "No energy entity" in t.page.inner_text("#energy-empty")
            assert t.page.locator(".chart").count() == 0
            assert t.problems == []
    finally:
        rt.stop()
