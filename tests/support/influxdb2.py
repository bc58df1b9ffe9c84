"""A stand-in for an InfluxDB 2.x server (none can run here): it keeps every request as it arrived, answers
writes with `status` (204 unless a test says otherwise) and InfluxQL reads with a fixed count (as a raw
count names it, and as the rollups' sums do)."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

QUERY_REPLY = {"results": [{"statement_id": 0, "series": [{
    "name": "state_changed", "columns": ["time", "count", "n"], "values": [[0, 3, 3]]}]}]}


class InfluxDB2StandIn:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 204
        self._lock = threading.Lock()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                stand_in._answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        parts = urlsplit(handler.path)
        entry = {"method": handler.command, "path": parts.path, "query": parse_qs(parts.query),
                 "headers": {k.lower(): v for k, v in handler.headers.items()}, "body": body}
        with self._lock:
            self.requests.append(entry)
        if entry["path"] == "/query":
            self._reply(handler, 200, QUERY_REPLY)
        elif self.status >= 400:
            self._reply(handler, self.status, {"code": "invalid", "message": "field type conflict"})
        else:
            handler.send_response(self.status)
            handler.end_headers()

    @staticmethod
    def _reply(handler: http.server.BaseHTTPRequestHandler, status: int, doc: dict[str, Any]) -> None:
        payload = json.dumps(doc).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def writes(self, bucket: str) -> list[dict[str, Any]]:
        """The v2 write requests with a body, for one bucket, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r["path"] == "/api/v2/write" and r["body"]
                    and r["query"].get("bucket") == [bucket]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
