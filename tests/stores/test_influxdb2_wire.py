"""The InfluxDB 2.x path. No 2.x server can run here, so a local HTTP server stands in for it and checks
the exact requests influxdb-client sends (v2 write) and the InfluxQL reads (v1-compatible /query)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ingestor.store import open_event_store
from ingestor.store.lineprotocol import point
from ingestor.store.model import EventFilter, StoreError, StoreUnavailable
from tests.stores.test_lineprotocol import RECORD

TOKEN = "my-influx-token-0123456789"


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    status = 204

    def _record(self) -> dict[str, Any]:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        entry = {"method": self.command, "path": parts.path, "query": parse_qs(parts.query),
                 "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        Recorder.requests.append(entry)
        return entry

    def do_POST(self) -> None:  # noqa: N802
        entry = self._record()
        if entry["path"] == "/query":
            payload = json.dumps({"results": [{"statement_id": 0, "series": [{
                "name": "state_changed", "columns": ["time", "count"], "values": [[0, 3]]}]}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(Recorder.status)
        if Recorder.status >= 400:
            payload = json.dumps({"code": "invalid", "message": "field type conflict"}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        else:
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def influx2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "influxdb-token").write_text(TOKEN)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    Recorder.requests, Recorder.status = [], 204
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"influxdb2://127.0.0.1:{server.server_address[1]}/ha_bucket?org=home"
    server.shutdown()


def test_a_write_is_one_v2_request_with_token_org_bucket_and_microseconds(influx2: str) -> None:
    store = open_event_store(influx2)
    second = {**RECORD, "event_id": "f" * 32, "time_fired": "2026-11-20T12:00:01.000000Z"}
    store.write([RECORD, second])
    (request,) = Recorder.requests
    assert (request["method"], request["path"]) == ("POST", "/api/v2/write")
    assert request["query"] == {"org": ["home"], "bucket": ["ha_bucket"], "precision": ["us"]}
    assert request["headers"]["authorization"] == f"Token {TOKEN}"
    assert request["headers"]["content-type"].startswith("text/plain")
    assert request["body"].decode() == f"{point(RECORD)}\n{point(second)}"


def test_reads_are_influxql_on_the_bucket_through_the_v1_endpoint(influx2: str) -> None:
    assert open_event_store(influx2).count(EventFilter(entity_id="sensor.t")) == 3
    (request,) = Recorder.requests
    assert (request["path"], request["query"]["db"], request["query"]["epoch"]) == ("/query", ["ha_bucket"], ["u"])
    assert request["headers"]["authorization"] == f"Token {TOKEN}"
    q = parse_qs(request["body"].decode())["q"][0]
    assert q == "SELECT count(\"event_id\") FROM /.*/ WHERE \"event_type\" != '' AND \"entity_id\" = 'sensor.t'"


def test_a_refused_write_is_a_store_error_with_the_servers_reason(influx2: str) -> None:
    Recorder.status = 400
    with pytest.raises(StoreError, match="field type conflict") as caught:
        open_event_store(influx2).write([RECORD])
    assert not isinstance(caught.value, StoreUnavailable)
    assert TOKEN not in str(caught.value)


def test_a_server_error_is_unavailable(influx2: str) -> None:
    Recorder.status = 503
    with pytest.raises(StoreUnavailable):
        open_event_store(influx2).write([RECORD])


def test_influxdb2_needs_an_org_and_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("INFLUXDB_TOKEN", raising=False)
    with pytest.raises(ValueError, match="org"):
        open_event_store("influxdb2://127.0.0.1:1/b")
