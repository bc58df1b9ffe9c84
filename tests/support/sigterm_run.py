"""Not collected by the suite: the run that tests/support/test_sigterm.py stops with SIGTERM."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.servers import PostgresServer


def test_holds_postgresql_until_stopped(postgres: PostgresServer) -> None:
    assert postgres.proc is not None
    Path(os.environ["SIGTERM_RUN_PID_FILE"]).write_text(str(postgres.proc.pid))
    time.sleep(120)
