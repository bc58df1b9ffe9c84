"""A function without a runtime: its handler loaded in this process as the template loads it (`load_handler`,
called with `call`), or served by the template entry as its own process (`served`)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from ingestor import bus, envelope, errors, jsoncodec, metadata, responses, store
from localfaas import ports, procs
from tests.support import http
from tests.support.polling import wait_for
from tests.support.runtime import REPO

TEMPLATE_ENTRY = REPO / "templates" / "python3-ingestor" / "index.py"


def _up(url: str, name: str) -> bool:
    """The function answers /_/ready as itself (whatever else might hold the port does not count)."""
    try:
        reply = http.call("GET", f"{url}/_/ready", timeout=1)
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
            procs.stop(proc)


# What a function process opens or reads once and keeps (module, cached function): forgotten by fresh_process().
PROCESS_STATE = [("ingestor.context.api", "poller"), ("ingestor.sports.api", "poller"),
                 ("ingestor.sports.api", "configured"), ("ingestor.sports.routes", "repository"),
                 ("ingestor.webhooks.api", "store"), ("ingestor.webhooks.api", "current"),
                 ("ingestor.health.api", "system"), ("ingestor.queries.sources", "event_store"),
                 ("ingestor.queries.routes", "api")]


def fresh_process() -> None:
    """Forget what this process opened and read once (the bus, the shared stores, settings), as a function
    process starting now would have none of it; what was open is closed."""
    if bus._default is not None:
        bus._default.close()
        bus._default = None
    if (webhooks := sys.modules.get("ingestor.webhooks.dispatch_api")) and webhooks.dispatcher.cache_info().currsize:
        webhooks.dispatcher().stop()
        webhooks.dispatcher.cache_clear()
    if store.shared.cache_info().currsize:
        store.shared().close()
    for cached in (store.shared, metadata.shared, metadata.shared_directory, envelope.max_events):
        cached.cache_clear()
    for module, name in PROCESS_STATE:
        getattr(importlib.import_module(module), name).cache_clear()
    archive = importlib.import_module("ingestor.archive.api")  # its jobs are closed by whoever started them
    archive._jobs, archive._health_cache = None, None


def load_handler(name: str) -> ModuleType:
    """functions/<name>/handler.py as a fresh function process has it (its settings read from the environment
    now), its `start()` run as the template runs it."""
    fresh_process()
    spec = importlib.util.spec_from_file_location(f"handler_{name.replace('-', '_')}",
                                                  REPO / "functions" / name / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if callable(getattr(module, "start", None)):
        module.start()
    return module


def invoke(handler: ModuleType, method: str = "POST", path: str = "/", body: Any = b"",
         query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, decoded body) of one call, answered as the template answers it (a domain error becomes its
    status, ingestor.responses.status_of). A body that is not bytes is sent as JSON."""
    raw = body if isinstance(body, bytes) else jsoncodec.dumps(body)
    event = SimpleNamespace(method=method, path=path, query=query or {}, headers=headers or {}, body=raw,
                            raw_path=path)
    try:
        reply = handler.handle(event, SimpleNamespace(function_name=handler.__name__))
    except (errors.Problem, responses.HTTPError) as exc:
        reply = responses.from_error(exc)
    content = reply.get("body", b"")
    try:
        return reply["statusCode"], jsoncodec.loads(content) if content else None
    except jsoncodec.JSONDecodeError:
        return reply["statusCode"], content
