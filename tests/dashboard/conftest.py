"""Says where the browser tests left their screenshots."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import SHOTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SHOTS.is_dir() and any(SHOTS.glob("*.png")):
        terminalreporter.write_line(f"dashboard screenshots: {SHOTS} ({len(list(SHOTS.glob('*.png')))} views)")
