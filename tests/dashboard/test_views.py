"""Every view of the dashboard in real headless Chromium against the running local stack with stored events.

Each test opens a view in a fresh browser context, waits for the data the stack stored (and for its charts
to be drawn: ECharts' 'finished' event sets data-rendered), asserts it is shown, that no console error or
page error happened, and saves a screenshot to test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from playwright.sync_api import Browser, expect

from ingestor import apikeys, subjects
from tests.dashboard import home, stack
from tests.dashboard.browser import Tab, tab
from tests.dashboard.layout import chart_option
from tests.support.ha_events import state_changed
from tests.support.http import call
from tests.support.polling import wait_for

pytestmark = pytest.mark.integration
WAIT_MS = 30000


def text_of(t: Tab, selector: str) -> str:
    return t.page.locator(selector).inner_text(timeout=WAIT_MS)


def test_overview_shows_health_totals_and_the_event_rate(view: Tab, house: stack.Home) -> None:
    view.open("overview")
    view.rendered("chart-rate")
    view.rendered("chart-domains")
    summary = house.get("query/stats/summary?start=-24h")
    expect(view.page.locator("#total-events .value")).to_have_text(f"{summary['total']:,}", timeout=WAIT_MS)
    assert summary["total"] >= len(house.events)
    health = house.get("health/")
    first = health["components"][0]["name"]
    expect(view.page.locator(f"tr[data-component='{first}']")).to_be_visible(timeout=WAIT_MS)
    assert view.page.evaluate("window.__dashboard.chartsRendered") >= 2
    view.shot("overview")


def test_overview_at_phone_width_in_the_dark_theme(browser: Browser, house: stack.Home) -> None:
    with tab(browser, house.dashboard, viewport={"width": 375, "height": 812}, color_scheme="dark",
             is_mobile=True, has_touch=True) as t:
        t.open("overview")
        t.rendered("chart-rate")
        assert t.page.evaluate("document.documentElement.dataset.theme") == "dark"
        expect(t.page.locator("#nav")).to_be_hidden()
        assert t.page.evaluate("document.documentElement.scrollWidth") <= 375, "the page scrolls sideways"
        t.shot("overview-dark-phone")
        t.page.click("#nav-toggle")
        expect(t.page.locator("#nav")).to_be_visible()
        t.page.click("#nav a[data-view='pipeline']")
        expect(t.page.locator("#nav")).to_be_hidden()
        assert t.page.url.endswith("#/pipeline")
        assert t.problems == [], "\n".join(t.problems)


def test_the_theme_toggle_switches_and_is_remembered(view: Tab) -> None:
    view.open("overview")
    view.rendered("chart-rate")
    before = view.page.evaluate("document.documentElement.dataset.theme")
    view.page.click("#theme-toggle")
    after = view.page.evaluate("document.documentElement.dataset.theme")
    assert {before, after} == {"light", "dark"}
    view.page.reload()
    assert view.page.evaluate("document.documentElement.dataset.theme") == after
    view.rendered("chart-rate")
    view.shot("overview-dark")


def test_the_time_range_applies_to_the_view_and_is_remembered(view: Tab, house: stack.Home) -> None:
    view.open("overview")
    view.rendered("chart-rate")
    whole_day = text_of(view, "#total-events .value")
    before = house.get("query/stats/summary?start=-1h")["total"]
    view.page.select_option("#range", "-1h")
    expect(view.page.locator("#total-events .value")).not_to_have_text(whole_day, timeout=WAIT_MS)
    after = house.get("query/stats/summary?start=-1h")["total"]  # events may leave the hour meanwhile
    assert text_of(view, "#total-events .value") in {f"{before:,}", f"{after:,}"}
    assert after < house.get("query/stats/summary?start=-24h")["total"]
    view.page.reload()
    assert view.page.locator("#range").input_value() == "-1h"


def test_live_events_lists_stored_events_and_highlights_new_ones(view: Tab, house: stack.Home) -> None:
    view.open("events")
    last, before = home.TEMPERATURES[-1], home.TEMPERATURES[-2]
    row = view.page.locator("tbody tr", has_text=home.TEMPERATURE).first
    expect(row).to_contain_text(f"{before} °C → {last} °C", timeout=WAIT_MS)
    view.shot("events")
    door = state_changed("binary_sensor.front_door", "off", "on", dt.datetime.now(dt.UTC), unit=None)
    house.publish(subjects.RAW, "dashboard-live", [door])
    fresh = view.page.locator("tbody tr.new", has_text="binary_sensor.front_door")
    expect(fresh).to_contain_text("off → on", timeout=WAIT_MS)


def test_live_events_filter_by_domain_and_pause(view: Tab) -> None:
    view.open("events")
    expect(view.page.locator("tbody tr").first).to_be_visible(timeout=WAIT_MS)
    view.page.fill("input[name='domain']", "input_boolean")
    view.page.click("form.filters button[type='submit']")
    expect(view.page.locator("tbody tr", has_text="sensor.")).to_have_count(0, timeout=WAIT_MS)
    expect(view.page.locator("tbody tr", has_text=home.LIGHT).first).to_be_visible()
    assert "domain=input_boolean" in view.page.url
    view.page.click("#pause")
    expect(view.page.locator("#pause")).to_have_text("Resume")


def test_html_in_states_and_names_is_shown_as_text(view: Tab) -> None:
    view.open(f"events/entity_id={home.HTML_PROBE}")
    row = view.page.locator("tbody tr", has_text=home.HTML_PROBE).first
    expect(row).to_contain_text(home.HTML_STATE, timeout=WAIT_MS)
    expect(row).to_contain_text("Hallway <b>note</b>")
    assert view.page.locator("main img, main b").count() == 0
    assert view.page.evaluate("window.__xss") is None


def test_entity_history_names_the_entity_its_place_and_its_state_with_its_unit(view: Tab) -> None:
    view.open(f"entity/{home.TEMPERATURE}")
    view.rendered("chart-series")
    expect(view.page.locator("#entity-title")).to_have_text("Kitchen Temperature")
    expect(view.page.locator("#entity-where")).to_contain_text(f"{home.TEMPERATURE} · Kitchen · Kitchen Thermometer")
    expect(view.page.locator("#current-state .value")).to_have_text(f"{home.TEMPERATURES[-1]} °C")
    assert view.page.locator("#chart-timeline").count() == 0, "a numeric sensor is a line, not a state timeline"
    view.shot("entity")


def test_entity_history_of_a_switch_has_its_on_off_timeline(view: Tab) -> None:
    view.open(f"entity/{home.LIGHT}")
    view.rendered("chart-timeline")
    table = view.page.locator("section.panel", has_text="State changes")
    expect(table.locator("tbody tr", has_text="on").first).to_be_visible()
    expect(table.locator("tbody tr", has_text="off").first).to_be_visible()


def test_analytics_shows_areas_top_entities_durations_and_reliability(view: Tab) -> None:
    view.open("analytics")
    for chart in ("chart-areas", "chart-top", "chart-durations"):
        view.rendered(chart)
    expect(view.page.locator("section.panel", has_text="Events per area")).to_contain_text("Living Room")
    expect(view.page.locator("section.panel", has_text="Device reliability")).to_contain_text(
        home.THERMOMETER["name"], timeout=WAIT_MS)
    view.shot("analytics")


def test_trace_shows_the_automation_chain_as_a_tree(view: Tab) -> None:
    view.open(f"trace/{home.CHAIN_CHILD}")
    view.rendered("chart-trace")
    events = view.page.locator("section.panel", has_text="Events, in causal order")
    for entity in (home.LIGHT, "automation.count_lights_turned_on", "counter.light_on_events"):
        expect(events.locator("tbody tr", has_text=entity).first).to_be_visible()
    expect(view.page.locator("#trace-summary")).to_contain_text("contexts")
    assert re.search(r"in [2-9]\d* contexts", text_of(view, "#trace-summary")), "the parent context is missing"
    [root] = chart_option(view.page, "chart-trace")["series"][0]["data"]
    contexts = [c["name"] for c in root["children"] if c.get("children")]
    assert (root["name"], contexts) == ("a user's action", ["Count lights turned on"]), "contexts named by what ran"
    view.shot("trace")


def test_trace_says_what_a_backfilled_event_s_context_is_missing_instead_of_linking_it(view: Tab) -> None:
    view.open(f"trace/{home.BACKFILLED_RUN}")
    view.rendered("chart-trace")
    run = view.page.locator("section.panel", has_text="Events, in causal order").locator("tbody tr").first
    expect(run).to_contain_text("automation.count_lights_turned_on")  # the run, named by its automation
    expect(run).to_contain_text("cause unknown (backfilled)")
    view.open(f"trace/{home.BACKFILLED_CHANGE}")
    view.rendered("chart-trace")
    change = view.page.locator("section.panel", has_text="Events, in causal order").locator("tbody tr").first
    expect(change).to_contain_text("counter.light_on_events")
    expect(change).to_contain_text("context unknown (backfilled)")


def test_devices_lists_areas_devices_and_a_device_s_entities(view: Tab) -> None:
    view.open("devices")
    for area in ("Living Room", "Kitchen", "Office"):
        expect(view.page.locator(".card", has_text=area).first).to_be_visible(timeout=WAIT_MS)
    expect(view.page.locator(".card[data-area='kitchen']")).to_contain_text("1 device · 2 entities")
    device = view.page.locator("tbody tr", has_text=home.THERMOMETER["name"]).first
    expect(device).to_contain_text("Acme")
    view.shot("devices")
    device.locator("a").click()
    expect(view.page.locator("#device-title")).to_have_text(home.THERMOMETER["name"], timeout=WAIT_MS)
    expect(view.page.locator("#device-detail")).to_contain_text(home.TEMPERATURE)


def test_sports_shows_the_followed_team_s_live_game_and_its_timeline(view: Tab) -> None:
    view.open("sports")
    game = view.page.locator("tr[data-game-id='401671999']")
    expect(game).to_contain_text("DAL 10 – 14 SF", timeout=WAIT_MS)
    expect(game).to_contain_text("live")
    view.rendered("chart-score")
    expect(view.page.locator(".card[data-team='SF']")).to_be_visible(timeout=WAIT_MS)
    view.shot("sports")


def test_webhooks_lists_with_masked_secrets_and_shows_deliveries(view: Tab, house: stack.Home) -> None:
    view.open("webhooks")
    row = view.page.locator(f"tr[data-webhook-id='{house.webhook['id']}']")
    expect(row).to_contain_text("Kitchen watcher", timeout=WAIT_MS)
    secret_cell = row.locator("td.mono").nth(1)
    expect(secret_cell).to_have_text(re.compile(r"^\*{4}"))
    assert house.webhook["secret"] not in view.page.content()
    expect(view.page.locator("#deliveries tbody tr").first).to_be_visible(timeout=WAIT_MS)
    view.shot("webhooks")


def test_webhooks_can_be_created_and_deleted_from_the_view(view: Tab, house: stack.Home) -> None:
    view.open("webhooks")
    expect(view.page.locator("tbody tr").first).to_be_visible(timeout=WAIT_MS)
    view.page.fill("#webhook-create input[name='url']", house.receiver.url + "/second")
    view.page.fill("#webhook-create input[name='name']", "Doors")
    view.page.fill("#webhook-create input[name='domains']", "binary_sensor")
    view.page.click("#webhook-create button[type='submit']")
    expect(view.page.locator("#new-secret")).to_be_visible(timeout=WAIT_MS)
    row = view.page.locator("tr", has_text="Doors")
    expect(row).to_be_visible()
    view.page.on("dialog", lambda d: d.accept())
    row.locator("button.danger").click()
    expect(view.page.locator("tr", has_text="Doors")).to_have_count(0, timeout=WAIT_MS)


def test_a_paused_webhook_shows_what_it_holds_and_can_be_resumed_from_the_view(view: Tab, house: stack.Home) -> None:
    dead = call("POST", f"{house.gateway}/function/webhooks/webhooks", json.dumps({
        "url": "http://127.0.0.1:9/nobody-listens", "name": "Garage (dead)",
        "filters": {"entity_ids": ["binary_sensor.garage_*"]}}).encode(),
        house.runtime.keyed(apikeys.WEBHOOKS)).json()
    garage = state_changed("binary_sensor.garage_door", "off", "on", dt.datetime.now(dt.UTC), unit=None)
    house.publish(subjects.RAW, "dashboard-garage", [garage])
    assert wait_for(lambda: (house.get(f"webhooks/webhooks/{dead['id']}") or {}).get("paused"), 60, 0.5)
    view.open("webhooks")
    row = view.page.locator(f"tr[data-webhook-id='{dead['id']}']")
    expect(row).to_contain_text("paused since", timeout=WAIT_MS)
    expect(row).to_contain_text("1 held")  # the garage event: kept, not dropped
    expect(row).to_contain_text("connection error")  # its last error
    view.shot("webhooks-paused")
    row.locator("button", has_text="Resume").click()
    expect(row.locator("button", has_text="Resume")).to_have_count(0, timeout=WAIT_MS)
    expect(row).not_to_contain_text("paused")
    call("DELETE", f"{house.gateway}/function/webhooks/webhooks/{dead['id']}",
         headers=house.runtime.keyed(apikeys.WEBHOOKS))


def test_webhooks_ask_for_the_api_key_the_runtime_generated(browser: Browser, house: stack.Home) -> None:
    with tab(browser, house.dashboard) as t:  # a person's first visit: the key is in .secrets/webhooks-api-key
        t.open("webhooks")
        expect(t.page.locator("#api-key-form")).to_be_visible(timeout=WAIT_MS)
        t.page.fill("#api-key-form input", "wrong-key")
        t.page.click("#api-key-form button")
        expect(t.page.locator("#api-key-form")).to_contain_text("refused", timeout=WAIT_MS)
        t.page.fill("#api-key-form input", house.webhooks_key)
        t.page.click("#api-key-form button")
        expect(t.page.locator("tr", has_text="Kitchen watcher")).to_be_visible(timeout=WAIT_MS)
        assert t.page.evaluate("sessionStorage.length") == 1
        unexpected = [p for p in t.problems if "status of 401" not in p]  # the refused requests themselves
        assert unexpected == [], "\n".join(unexpected)


def test_archive_shows_its_status_and_errors_inline(view: Tab) -> None:
    view.open("archive")
    expect(view.page.locator("#archived-days")).to_be_visible(timeout=WAIT_MS)
    expect(view.page.locator("main .error")).to_contain_text("archive not configured")
    expect(view.page.locator("main")).to_contain_text("Settings")
    view.shot("archive")


def test_pipeline_shows_stages_lag_and_dead_letters_with_reasons(view: Tab, house: stack.Home) -> None:
    view.open("pipeline")
    view.rendered("chart-lag")
    for stage in ("validate", "normalize", "write"):
        expect(view.page.locator(f"tr[data-stage='{stage}']").first).to_be_visible(timeout=WAIT_MS)
    pipeline = house.get("health/pipeline")
    expect(view.page.locator("#dlq-total .value")).to_have_text(f"{pipeline['dlq']['total']:,}", timeout=WAIT_MS)
    assert pipeline["dlq"]["total"] >= 1
    expect(view.page.locator("main")).to_contain_text("time_fired")
    view.shot("pipeline")


def test_configuration_is_tables_of_named_settings_with_secrets_masked(view: Tab, house: stack.Home) -> None:
    view.open("config")
    endpoints = view.page.locator("#config-endpoints")
    expect(endpoints.locator("tr", has_text="Event store")).to_be_visible(timeout=WAIT_MS)
    expect(view.page.locator("#config-functions tr[data-function='write']")).to_be_visible(timeout=WAIT_MS)
    expect(view.page.locator("#config-context tr[data-source='weather']")).to_be_visible(timeout=WAIT_MS)
    expect(view.page.locator("#config-query tr", has_text="Backend")).to_be_visible(timeout=WAIT_MS)
    assert view.page.locator("main pre").count() == 0, "raw JSON instead of a table"
    assert house.webhook["secret"] not in view.page.content()
    view.shot("config")


def test_the_gateway_root_and_the_slashless_path_open_the_app(view: Tab, house: stack.Home) -> None:
    view.page.goto(house.gateway + "/")
    expect(view.page.locator("#total-events")).to_be_visible(timeout=WAIT_MS)
    assert view.page.url.startswith(house.dashboard)
    view.page.goto(house.gateway + "/function/dashboard")
    expect(view.page.locator("#total-events")).to_be_visible(timeout=WAIT_MS)
    assert view.page.url.startswith(house.dashboard)


def test_a_view_whose_api_is_down_shows_the_error_and_the_rest_keep_working(browser: Browser,
                                                                            house: stack.Home) -> None:
    """Last in the module: it stops the query function (the supervisor restarts it)."""
    with tab(browser, house.dashboard) as t:
        t.open("pipeline")
        t.rendered("chart-lag")
        house.runtime.kill_function("query")
        t.open(f"entity/{home.TEMPERATURE}")
        expect(t.page.locator("main .error")).to_be_visible(timeout=WAIT_MS)
        t.open("pipeline")
        expect(t.page.locator("tr[data-stage='write']").first).to_be_visible(timeout=WAIT_MS)
        unexpected = [p for p in t.problems if "Failed to load resource" not in p]  # the failed requests
        assert unexpected == [], "\n".join(unexpected)
