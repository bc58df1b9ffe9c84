"""The Alerts view in real headless Chromium against the running stack: an empty state while there is no alert;
then the active alerts and the history (with each alert's start, end and evidence) once alerts are in the
metadata DB the health function serves them from; and the same at phone width, without sideways scrolling or
overflowing text. (How alerts open and close is tests/alerts'; here they are written as an evaluation would.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from ingestor.alerts.rules import Finding
from ingestor.alerts.store import AlertStore
from tests.dashboard import stack
from tests.dashboard.browser import Tab, tab
from tests.dashboard.layout import broken_words, overflows

pytestmark = pytest.mark.integration
WAIT_MS = 30000
SILENT = Finding("sensor_silent", "sensor.garden_temperature_outside", "warning",
                 "sensor.garden_temperature_outside has sent nothing for 2.5 h; it usually reports every 5 min",
                 {"last_seen": "2026-11-30T08:00:00.000000Z", "silent_s": 9000.0, "usual_interval_s": 300.0,
                  "events_in_baseline": 288, "baseline_s": 86400.0, "threshold_s": 1500.0})
DOWN = Finding("store_down", "event-store", "critical", "the event store is down: event store unavailable: refused",
               {"component": "event-store", "status": "unhealthy", "reasons": ["event store unavailable: refused"]})


def raise_alerts(house: stack.Home) -> None:
    """One active alert and one that started and ended (once per stack)."""
    alerts = AlertStore(f"sqlite:///{house.runtime.workdir / 'data' / 'metadata.db'}")
    if not alerts.history(1):
        alerts.apply([SILENT, DOWN], [], "2026-11-30T10:00:00.000000Z")
        (down,) = [a for a in alerts.active() if a.rule == "store_down"]
        alerts.apply([], [(down, {"resolved": True})], "2026-11-30T10:04:30.000000Z")
    alerts.engine.dispose()


def test_the_alerts_view_says_there_is_no_alert(view: Tab, house: stack.Home) -> None:
    assert house.get("health/alerts/history")["alerts"] == [], "this test runs before any alert is raised"
    view.open("alerts")
    expect(view.page.locator("#alerts-active .empty")).to_have_text("No active alert.", timeout=WAIT_MS)
    expect(view.page.locator("#alerts-history .empty")).to_have_text("No alert has been raised yet.")
    view.shot("alerts-empty")


def test_the_alerts_view_shows_the_active_alerts_and_the_history(view: Tab, house: stack.Home) -> None:
    raise_alerts(house)
    view.open("alerts")
    active = view.page.locator("#alerts-active tr[data-alert]")
    expect(active).to_have_count(1, timeout=WAIT_MS)
    expect(active.first).to_have_attribute("data-rule", "sensor_silent")
    for text in ("warning", "Sensor silent", "sensor.garden_temperature_outside", "it usually reports every 5 min"):
        expect(active.first).to_contain_text(text)
    history = view.page.locator("#alerts-history tr[data-alert]")
    expect(history).to_have_count(2)
    down = view.page.locator("#alerts-history tr[data-rule='store_down']")
    for text in ("critical", "Event store down", "event-store", "4.5 min"):
        expect(down).to_contain_text(text)
    expect(view.page.locator("#alerts-history tr[data-rule='sensor_silent']")).to_contain_text("active")
    down.locator("summary").click()
    expect(down.locator("tr[data-key='reasons'] td")).to_have_text("event store unavailable: refused")
    expect(view.page.locator("main")).to_contain_text("ALERT_SILENT_FACTOR")
    view.shot("alerts")


def test_the_alerts_view_fits_a_phone(browser: Browser, house: stack.Home) -> None:
    raise_alerts(house)
    with tab(browser, house.dashboard, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) as t:
        t.open("alerts")
        expect(t.page.locator("#alerts-history tr[data-alert]")).to_have_count(2, timeout=WAIT_MS)
        t.page.wait_for_load_state("networkidle")
        assert t.page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
        t.shot("alerts-phone")
        assert overflows(t.page) == [], overflows(t.page)
        assert broken_words(t.page) == []
        t.shot("alerts-phone")
        assert t.problems == []
