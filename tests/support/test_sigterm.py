"""A test run stopped with SIGTERM stops the servers its fixtures started (tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.polling import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_run_stopped_with_sigterm_stops_the_postgresql_server_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "postgres.pid"
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/support/sigterm_run.py"],
        cwd=REPO, env={**os.environ, "SIGTERM_RUN_PID_FILE": str(pid_file)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), 60, "the run started PostgreSQL")
        server = int(pid_file.read_text())
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == pytest.ExitCode.INTERRUPTED, output.decode()[-2000:]
    assert not alive(server), "PostgreSQL was left running"
