"""The running stack with stored events and one Chromium, shared by every browser test of the package; and where
the browser tests left their screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.dashboard import stack
from tests.dashboard.browser import SHOTS, Tab, chromium, tab


@pytest.fixture(scope="package")
def house(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Home]:
    started = stack.start(tmp_path_factory.mktemp("dashboard"))
    yield started
    stack.stop(started)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the package's tests, whatever stack a module serves: Playwright's sync API cannot run a
    second one beside it in the same thread. Not the session's: while it runs, its event loop is the main
    thread's running loop, and every later test's asyncio.run failed ("cannot be called from a running event
    loop")."""
    with chromium() as b:
        yield b


@pytest.fixture()
def view(browser: Browser, house: stack.Home) -> Iterator[Tab]:
    with tab(browser, house.dashboard, api_key=house.webhooks_key) as t:
        yield t
        assert t.problems == [], "\n".join(t.problems)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SHOTS.is_dir() and any(SHOTS.glob("*.png")):
        terminalreporter.write_line(f"dashboard screenshots: {SHOTS} ({len(list(SHOTS.glob('*.png')))} views)")
