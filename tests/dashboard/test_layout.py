"""Every view as a person sees it, on a desktop (1366×900) and a phone (390×844), light and dark, just after local
midnight (when lists hold both yesterday's dates and today's times): a screenshot of
each into test-artifacts/screenshots/, and no text that overflows its box or breaks inside a word, no chart label
overlapping another or cut at the chart's edge, no element printed as "[object ...]"."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.dashboard import home, stack
from tests.dashboard.browser import Tab, just_after_midnight, tab
from tests.dashboard.layout import broken_words, label_problems, overflows

pytestmark = pytest.mark.integration

SIZES = {"desktop": {"viewport": {"width": 1366, "height": 900}},
         "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}}
# A view's route and what is on screen once its data arrived.
VIEWS = {
    "overview": ("overview", "tr[data-component]"),
    "events": ("events", "tbody tr"),
    "entity-numeric": (f"entity/{home.TEMPERATURE}", "#chart-series"),
    "entity-binary": (f"entity/{home.LIGHT}", "#chart-timeline"),
    "analytics": ("analytics", "#chart-durations"),
    "trace": (f"trace/{home.CHAIN_CHILD}", "#trace-summary"),
    "devices": ("devices", "tbody tr"),
    "sports": ("sports", "tr[data-game-id]"),
    "webhooks": ("webhooks", "tr[data-webhook-id]"),
    "archive": ("archive", "#archived-days"),
    "pipeline": ("pipeline", "tr[data-stage='write']"),
    "config": ("config", "#config-endpoints tr"),
}
_SETTLED = """() => [...document.querySelectorAll('main .chart')].every((c) => c.dataset.rendered === '1')
  && !document.querySelector('main').textContent.includes('Loading…')"""


def opened(t: Tab, name: str) -> None:
    route, ready = VIEWS[name]
    t.open(route)
    t.page.wait_for_selector(f"main {ready}", state="attached", timeout=30000)
    t.page.wait_for_load_state("networkidle")
    t.page.wait_for_function(_SETTLED, timeout=30000)


def looked_at(browser: Browser, house: stack.Home, name: str, size: str, scheme: str) -> dict[str, Any]:
    with tab(browser, house.dashboard, api_key=house.webhooks_key, color_scheme=scheme,
             timezone_id=just_after_midnight(), **SIZES[size]) as t:
        opened(t, name)
        t.shot(f"{name}-{size}-{scheme}")
        return {"overflows": overflows(t.page), "broken words": broken_words(t.page),
                "labels": label_problems(t.page), "problems": t.problems,
                "an element printed as text": "[object " in t.page.inner_text("main")}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", VIEWS)
def test_every_view_fits_its_screen_in_light_and_dark(browser: Browser, house: stack.Home, name: str,
                                                      size: str) -> None:
    for scheme in ("light", "dark"):
        seen = looked_at(browser, house, name, size, scheme)
        wrong = {k: v for k, v in seen.items() if v}
        assert wrong == {}, f"{name} on a {size} in {scheme}: {wrong}"
