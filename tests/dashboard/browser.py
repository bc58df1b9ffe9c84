"""Headless Chromium (Debian's, driven by Playwright) that records every console error and page error."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.runtime import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = REPO / "test-artifacts" / "screenshots"
KEY_STORAGE = "ha-ingestor.webhooks-api-key"  # where the webhooks view keeps the key a person typed (api.js)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """One page in a fresh context, with what went wrong in it."""

    page: Page
    base: str
    problems: list[str] = field(default_factory=list)

    def open(self, route: str) -> Page:
        self.page.goto(f"{self.base}#/{route}")
        return self.page

    def rendered(self, chart_id: str, timeout_ms: int = 30000) -> None:
        self.page.wait_for_selector(f"#{chart_id}[data-rendered='1']", state="attached", timeout=timeout_ms)

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def just_after_midnight() -> str:
    """A time zone where it is now past midnight by less than an hour, whatever hour the suite runs at: lists hold
    yesterday's dates beside today's times (the widest a time column gets) and "today" has barely begun."""
    hour = dt.datetime.now(dt.UTC).hour
    ahead = -hour if hour <= 12 else 24 - hour
    return f"Etc/GMT{-ahead:+d}"  # POSIX signs: Etc/GMT+3 is UTC-3


@contextmanager
def tab(browser: Browser, base: str, api_key: str | None = None, **context_options: Any) -> Iterator[Tab]:
    """A fresh page; with `api_key`, as a person who typed the webhooks API key in it once."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
    if api_key:
        context.add_init_script(f"sessionStorage.setItem({json.dumps(KEY_STORAGE)}, {json.dumps(api_key)})")
    page = context.new_page()
    watched = Tab(page, base)
    page.on("console", lambda m: watched.problems.append(f"console.{m.type}: {m.text} @ {m.location}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.problems.append(f"pageerror: {e}"))
    try:
        yield watched
    finally:
        context.close()
