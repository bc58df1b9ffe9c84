"""One function served by the template entry, as the runtime and of-watchdog start it, without a runtime."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from localfaas import ports
from tests.support.http import call
from tests.support.runtime import REPO, wait_for

TEMPLATE_ENTRY = REPO / "templates" / "python3-ingestor" / "index.py"


def _up(url: str, name: str) -> bool:
    """The function answers /_/ready as itself (whatever else might hold the port does not count)."""
    try:
        reply = call("GET", f"{url}/_/ready", timeout=1)
        return reply.status == 200 and reply.json().get("function") == name
    except (OSError, ValueError):
        return False


@contextmanager
def served(function_root: Path, name: str, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The function's URL once it answers /_/ready; its stderr goes to `log`; stopped afterwards."""
    with ports.reserve() as port:  # no other process is handed the port while the function may bind it
        full_env = {**os.environ, "FUNCTION_ROOT": str(function_root), "FUNCTION_NAME": name,
                    "PORT": str(port.port), "PYTHONPATH": str(REPO / "functions" / "common"), **(env or {})}
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, str(TEMPLATE_ENTRY)], env=full_env, stderr=out)
        url = f"http://127.0.0.1:{port.port}"
        try:
            assert wait_for(lambda: proc.poll() is None and _up(url, name), 20), log.read_text()[-2000:]
            yield url
        finally:
            proc.terminate()
            proc.wait(10)
