"""`make audit` (tools/audit.py): pip-audit's report read honestly, never "no vulnerabilities" for nothing checked."""

from __future__ import annotations

import os
import subprocess
import sys

from localfaas.natsserver import free_port
from tools.audit import REPO, verdict

SKIPPED = "Dependency not found on PyPI and could not be audited: orjson (3.13.0)"


def test_a_known_vulnerability_fails_the_audit_and_names_the_fix() -> None:
    report = {"dependencies": [
        {"name": "orjson", "version": "3.11.4", "vulns": [{"id": "GHSA-hx9q-6w63-j58v", "fix_versions": ["3.11.5"]}]},
        {"name": "aiohttp", "version": "3.14.5", "vulns": []},
    ]}
    assert verdict(report) == (1, ["orjson 3.11.4: GHSA-hx9q-6w63-j58v (fixed in 3.11.5)",
                                   "2 pins checked, 1 with known vulnerabilities"])


def test_nothing_checked_is_reported_as_offline_not_as_clean() -> None:
    status, lines = verdict({"dependencies": [{"name": "orjson", "skip_reason": SKIPPED}]})
    assert status == 0
    assert lines == [f"offline: not checked (1 pins; the advisory service could not be reached: {SKIPPED})"]


def test_pins_that_could_not_be_checked_are_named() -> None:
    report = {"dependencies": [{"name": "orjson", "skip_reason": SKIPPED},
                               {"name": "aiohttp", "version": "3.14.5", "vulns": []}]}
    assert verdict(report) == (0, ["not checked: orjson", "1 pins checked, 0 with known vulnerabilities"])


def test_the_audit_runs_pip_audit_on_the_pins_and_says_offline_when_no_service_answers() -> None:
    dead_proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens: every advisory look-up fails here
    env = {**os.environ, "HTTPS_PROXY": dead_proxy, "HTTP_PROXY": dead_proxy, "NO_PROXY": ""}
    run = subprocess.run([sys.executable, "tools/audit.py"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("offline: not checked (")
