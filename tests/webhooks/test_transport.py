"""A delivery's request goes out in one write, so a sender killed mid-request (kill -9) never leaves the receiver
a head whose body never comes: http.client writes the head and the body apart, and a receiver that trusts what
arrives then sees a signed request with an empty body (issue 23). Against a real receiver on 127.0.0.1."""

from __future__ import annotations

import socket
from typing import Any

from urllib3.connection import HTTPConnection

from ingestor import jsoncodec
from ingestor.webhooks import delivery
from ingestor.webhooks.transport import OneWriteHTTPConnection, OneWriteHTTPSConnection
from tests.support.polling import wait_for
from tests.webhooks.events import ha_record
from tests.webhooks.receiver import receiving

SECRET = "transport-test-secret-001"


class Writes:
    """The connection's socket, recording each write."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def written(connection: HTTPConnection, body: bytes) -> list[bytes]:
    connection.connect()
    recorder = Writes(connection.sock)
    connection.sock = recorder  # type: ignore[assignment]
    connection.request("POST", "/hook", body=body, headers=delivery.headers_for(SECRET, "dlv_1", "state_changed", body))
    connection.getresponse().read()
    connection.close()
    return recorder.writes


def test_the_head_and_the_body_of_a_delivery_are_written_at_once() -> None:
    body = delivery.body_of("wh_1", "dlv_1", jsoncodec.dumps(ha_record("light.kitchen")))
    with receiving(SECRET) as rx:
        writes = written(OneWriteHTTPConnection("127.0.0.1", rx.port), body)
        (only,) = writes
        assert only.startswith(b"POST /hook HTTP/1.1\r\n") and only.endswith(b"\r\n\r\n" + body)
        (got,) = rx.delivered()
        assert got.body == body and got.verified


def test_plain_http_client_writes_them_apart() -> None:
    """Why the connection class exists: the window in which a killed sender leaves a head without its body."""
    body = b'{"event": {}}'
    with receiving(SECRET) as rx:
        writes = written(HTTPConnection("127.0.0.1", rx.port), body)
    assert len(writes) == 2 and writes[1] == body


def test_sessions_make_one_write_connections_for_http_and_https() -> None:
    session = delivery.new_session(2)
    for url, made in (("http://127.0.0.1:9/hook", OneWriteHTTPConnection),
                      ("https://127.0.0.1:9/hook", OneWriteHTTPSConnection)):
        assert session.get_adapter(url).poolmanager.connection_from_url(url).ConnectionCls is made
    session.close()


def test_a_request_cut_off_after_its_head_is_no_delivery_for_the_receiver() -> None:
    """What a receiver must do with the rest of the window (a body larger than the socket buffer can still be
    cut): compare the body with Content-Length; the signature check fails on it too."""
    body = b'{"webhook_id":"wh_1","delivery_id":"dlv_1","event":{}}'
    head = delivery.headers_for(SECRET, "dlv_1", "state_changed", body)
    with receiving(SECRET) as rx:
        with socket.create_connection(("127.0.0.1", rx.port)) as raw:
            lines = [f"{k}: {v}" for k, v in {**head, "Content-Length": str(len(body)), "Host": "x"}.items()]
            raw.sendall(("POST /hook HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode())
        assert wait_for(lambda: rx.cut_off == 1, 5)
        assert rx.all() == []
