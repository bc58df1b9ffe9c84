"""The skeleton of a stand-in for an API that cannot be reached from here (weather, prices, ESPN): an HTTP server
on 127.0.0.1 that answers GETs in the API's real wire format, counts requests and keeps their queries.

A stand-in says what it answers in `answer(path, query)`; `mode` is how it fails, as each stand-in defines it.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections import Counter
from typing import Any


class StandIn:
    content_type = "application/json"

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: Counter[str] = Counter()
        self.queries: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path, _, query = self.path.partition("?")
                server.requests[path] += 1
                server.queries.append(query)
                status, body = server.answer(path, query)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", server.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout tests)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path: str, query: str) -> tuple[int, Any]:
        """(status, body): bytes as they are, anything else as JSON."""
        raise NotImplementedError

    def total(self) -> int:
        return sum(self.requests.values())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
