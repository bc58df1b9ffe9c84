"""Entry of the python3-ingestor template: serves function/handler.py over HTTP.

The same file runs behind of-watchdog in an image and as a plain process in the local runtime
(infra/local), which points FUNCTION_ROOT at functions/<name> and PORT at a free port.
Reserved paths: /_/health (liveness; calls the handler's optional `health()`), /_/ready (answers
{"function": FUNCTION_NAME}, so a caller knows which function holds the port), /_/metrics (Prometheus).
Everything else goes to `handle(event, context)`; with REQUIRE_CONNECTOR_SIGNATURE=true only when the
connectors signed it (ingestor.signedcalls), but for GET/HEAD of the handler's UNSIGNED_READS paths and its
KEYED_CALLS (a person's calls, which the handler checks against its API key).
A handler's optional `start()` runs once when the process starts, before it serves.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import socket
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
FUNCTION_ROOT = Path(os.environ.get("FUNCTION_ROOT", HERE / "function")).resolve()
# faas-cli copies stack.yml's `configuration.copy: [./functions/common]` to function/functions/common.
for shared in (FUNCTION_ROOT / "functions" / "common",):
    if shared.is_dir():
        sys.path.insert(0, str(shared))
sys.path.insert(0, str(FUNCTION_ROOT))


class _NatsWithoutWebSocket(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """nats-py imports aiohttp (9 MB of a function's RSS) only for its WebSocket transport, which no function
    uses (NATS_URL is nats://) and no function imports otherwise: while nats.aio.transport loads, `import
    aiohttp` fails, as in an image without it. Only then: a later import of aiohttp works."""

    def __init__(self) -> None:
        self.loader: importlib.abc.Loader | None = None

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "nats.aio.transport" or "aiohttp" in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        assert self.loader is not None
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        assert self.loader is not None
        sys.modules["aiohttp"] = None  # type: ignore[assignment]  # `import aiohttp` raises ImportError
        try:
            self.loader.exec_module(module)
        finally:
            del sys.modules["aiohttp"]


if not os.environ.get("NATS_URL", "").startswith(("ws://", "wss://")):
    sys.meta_path.insert(0, _NatsWithoutWebSocket())

from flask import Flask, Response, request  # noqa: E402
from waitress import serve  # noqa: E402
from werkzeug.exceptions import HTTPException, InternalServerError  # noqa: E402
from werkzeug.wrappers import Request  # noqa: E402

from ingestor import config, errors, jsoncodec, logs, metrics, responses, signedcalls  # noqa: E402

FUNCTION_NAME = config.env_str("FUNCTION_NAME") or os.environ.get("HOSTNAME", socket.gethostname())
logs.setup(FUNCTION_NAME)
log = logging.getLogger("index")  # this file runs as __main__: its own name says more

_requests = metrics.counter("function_requests_total", "Invocations by status", ["function", "status"])
_seconds = metrics.histogram("function_seconds", "Invocation duration", ["function"])


def _load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("handler", FUNCTION_ROOT / "handler.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no handler.py in {FUNCTION_ROOT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    return module


handler = _load_handler()
SIGNED_ONLY = signedcalls.required()  # read once: a malformed value stops the function at start
UNSIGNED_READS: tuple[str, ...] = tuple(getattr(handler, "UNSIGNED_READS", ()))
KEYED_CALLS: tuple[tuple[str, str], ...] = tuple(getattr(handler, "KEYED_CALLS", ()))
if callable(getattr(handler, "start", None)):
    handler.start()  # what runs with the process, not with the first call (e.g. a retry sweeper)


class Event:
    """The python3-http event: body (bytes), headers, method, query, path."""

    def __init__(self, req: Request) -> None:
        self.body: bytes = req.get_data()
        self.headers = req.headers
        self.method: str = req.method
        self.query = req.args
        self.path: str = req.path  # percent-decoded
        self.raw_path: str = (req.environ.get("REQUEST_URI") or req.full_path).split("?", 1)[0]


class Context:
    def __init__(self) -> None:
        self.hostname = os.environ.get("HOSTNAME", "localhost")
        self.function_name = FUNCTION_NAME


def _to_response(result: Any) -> Response:
    if result is None:
        return Response(b"", 200)
    if not isinstance(result, dict):
        return Response(str(result), 200)
    body = result.get("body", b"")
    headers = dict(result.get("headers") or {})
    if isinstance(body, dict | list):
        body = jsoncodec.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    elif not isinstance(body, bytes | str):
        body = str(body)
    return Response(body, int(result.get("statusCode", 200)), headers)


ROOT_METHODS = ["GET", "PUT", "POST", "PATCH", "DELETE"]


def _error(status: int, code: str, message: str) -> Response:
    return _to_response(responses.error_response(status, code, message))


MAX_BODY_BYTES = config.env_int("MAX_BODY_BYTES", 8 * 1024 * 1024)
app = Flask(__name__, static_folder=None)  # no built-in /static route: a function's own paths all reach handle()
app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES


@app.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    return _error(exc.code or 500, code, exc.description or code)


@app.get("/_/health")
def _health() -> Response:
    check = getattr(handler, "health", None)
    result = check() if callable(check) else {"status": "ok"}
    healthy = result.get("status") == "ok"
    return _to_response(responses.json_response(result, 200 if healthy else 503))


@app.get("/_/ready")
def _ready() -> Response:
    return _to_response(responses.json_response({"function": FUNCTION_NAME}))


@app.get("/_/metrics")
def _metrics() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, 200, {"Content-Type": content_type})


_said: set[str] = set()


def _say_once(message: str, **extra: Any) -> None:
    """Refusals are counted each time and logged once per kind: a caller retrying must not flood the log."""
    kind = f"{message} {sorted(extra.items())}"
    if kind not in _said:
        _said.add(kind)
        log.warning(message, extra=extra)


def _check_signature(event: Event, req: Request) -> None:
    if not SIGNED_ONLY or not signedcalls.needs_signature(event.method, event.path, UNSIGNED_READS, KEYED_CALLS):
        return
    key = signedcalls.key()
    if not key:
        _say_once("REQUIRE_CONNECTOR_SIGNATURE is set but the connector-key secret is missing: refusing every call")
        raise errors.Unavailable("this function accepts only the connectors' signed calls and has no "
                                    "connector-key secret to check them", code="connector_key_missing")
    try:
        signedcalls.verify(key, event.headers.get(signedcalls.HEADER), event.method, event.path,
                           req.query_string.decode("utf-8", "replace"), event.body)
    except signedcalls.Unsigned as exc:
        _say_once("refused a call without the connectors' signature (counted as status 401)", reason=str(exc))
        raise responses.HTTPError(401, "unsigned_call", f"only the connectors may call this function: {exc}") \
            from None


@app.route("/", defaults={"path": ""}, methods=ROOT_METHODS)
@app.route("/<path:path>", methods=ROOT_METHODS)
def _invoke(path: str) -> Response:
    return _call(request)


def _call(req: Request) -> Response:
    """One call of the handler: the function's own paths, and its root (see `serve_root`)."""
    started = time.perf_counter()
    try:
        event = Event(req)
        _check_signature(event, req)
        response = _to_response(handler.handle(event, Context()))
    except (errors.Problem, responses.HTTPError) as exc:  # the domain's errors, answered with their status
        response = _to_response(responses.from_error(exc))
    except HTTPException:
        raise
    except Exception:
        log.exception("handler failed", extra={"path": req.path})
        response = _error(500, "internal_error", "the function failed; see its logs")
    _requests.labels(FUNCTION_NAME, str(response.status_code)).inc()
    _seconds.labels(FUNCTION_NAME).observe(time.perf_counter() - started)
    return response


def serve_root(environ: dict[str, Any], start_response: Any) -> Any:
    """The WSGI entry. A call of the function's root path `/` (every topic and cron invocation) goes straight to
    the handler, answered as Flask's `/` route answers it (its 413 and the error contract included), without
    Flask's request context, routing and error dispatch: 0.1-0.2 ms, a fifth to a third of the template's CPU per
    call (bench/hop_costs.py), paid five times per batch along the pipeline. Everything else (reserved paths, HEAD
    and OPTIONS, any other path) is Flask's."""
    if environ.get("PATH_INFO") == "/" and environ.get("REQUEST_METHOD") in ROOT_METHODS:
        req = Request(environ)
        req.max_content_length = MAX_BODY_BYTES
        try:
            response = _call(req)
        except HTTPException as exc:
            response = _http_error(exc)
        except Exception:  # as Flask answers what escapes a view
            log.exception("call failed", extra={"path": "/"})
            response = _http_error(InternalServerError())
        return response(environ, start_response)
    return app.wsgi_app(environ, start_response)


RECV_BYTES = 64 * 1024
"""What waitress asks of a connection's socket at a time (8 KiB by default). A coalesced call's body (up to 512 KiB:
ingestor.envelope.MAX_COALESCED_BYTES; 4 batches of 100 events are about 380 KB) read 8 KiB at a time takes ~47
turns of waitress's loop: 0.91-0.95 ms of the server's CPU per 380 KB call, against 0.57-0.58 with 64 KiB (a bare
WSGI app reading its body, 2026-12-02); 128 KiB and 256 KiB were no better than 64. A batch of 100 alone (95 KB)
costs the same either way."""


YOUNG_COLLECTION_AT = 10_000
"""Objects made (less those freed) between two collections of the youngest generation (Python's default: 700). A
call's parsed batch is thousands of dicts and lists (a coalesced call of 4 batches of 100: some 3,000 to 10,000),
freed when the call ends and none of them in a cycle: at 700 the collector walked each several times and moved
them to older generations, whose collections then walked them again."""


def tune_collector() -> None:
    """What the process made before it serves (modules, the handler, its settings: 38,000-66,000 objects) lives as
    long as the process, so it is left out of every later collection (gc.freeze; the garbage start made is
    collected first); and the youngest generation is collected after YOUNG_COLLECTION_AT objects, not 700. Every
    cycle is still found and freed, a little later. In the local runtime, 100,000 events at batch 100 (2026-12-02,
    load average 8-9): the collector took 0.080 CPU-seconds per 10,000 events in the four stages and
    webhook-dispatch (normalize 12% of its CPU, validate 8%) and 0.037 with the freeze alone; in one process over
    calls of 4 batches of 100, normalize's collections took 7% of its CPU frozen and under 1% with both."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_AT, *gc.get_threshold()[1:])


if __name__ == "__main__":
    tune_collector()
    port = config.env_int("PORT", 5000)
    host = config.env_str("BIND_HOST", "127.0.0.1")  # of-watchdog reaches it on loopback
    log.info("serving", extra={"port": port, "function_root": str(FUNCTION_ROOT)})
    serve(serve_root, host=host, port=port, threads=config.env_int("WSGI_THREADS", 8), ident=None,
          recv_bytes=RECV_BYTES)
