"""/async-function through the real local runtime: what is queued, and where results may be sent."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import uuid
from collections.abc import Iterator

import pytest

from ingestor import jsoncodec
from tests.support.http import call
from tests.support.jetstream import JetStreamClient
from tests.support.metrics import sample
from tests.support.polling import wait_for
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.integration

CREDENTIALS = {"Authorization": "Bearer bearer-secret-0123", "X-API-Key": "api-key-secret-4567",
               "Cookie": "session=cookie-secret-89ab", "X-Connector-Signature": "t=1,v1=signature-secret-cdef",
               "X-Custom": "custom-value-not-needed"}


class Receiver(http.server.ThreadingHTTPServer):
    """A callback target on 127.0.0.1; with `redirect_to` it answers 307 to that URL instead."""

    def __init__(self, redirect_to: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.redirect_to = redirect_to
        self.received: list[tuple[dict[str, str], bytes]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/done"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
        if self.server.redirect_to:
            self.send_response(307)
            self.send_header("Location", self.server.redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def lan_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """A runtime whose operator allows callbacks inside the network (WEBHOOK_ALLOW_PRIVATE_TARGETS=true)."""
    with LocalRuntime(tmp_path_factory.mktemp("lan"), env={"WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}) as rt:
        yield rt


@pytest.fixture(scope="module")
def guarded_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """A runtime with the default: callbacks only to public addresses."""
    with LocalRuntime(tmp_path_factory.mktemp("guarded"), env={"WEBHOOK_ALLOW_PRIVATE_TARGETS": ""}) as rt:
        yield rt


def queued(runtime: LocalRuntime) -> list[bytes]:
    js = JetStreamClient(runtime.nats_url)
    try:
        return js.raw_messages("faas.async.>")
    finally:
        js.close()


def test_async_invoke_answers_202_and_posts_the_result_to_the_callback_url(
        lan_runtime: LocalRuntime, receiver: Receiver) -> None:
    reply = call("POST", f"{lan_runtime.gateway}/async-function/echo/job?n=7", b"async-body",
                 {"X-Callback-Url": receiver.url})
    assert reply.status == 202
    call_id = reply.headers["X-Call-Id"]
    assert wait_for(lambda: receiver.received, 20)
    headers, body = receiver.received[0]
    assert headers["X-Call-Id"] == call_id
    assert headers["X-Function-Status"] == "200"
    assert headers["X-Function-Name"] == "echo"
    result = json.loads(body)
    assert result["path"] == "/job"
    assert result["query"] == {"n": "7"}
    assert base64.b64decode(result["body"]) == b"async-body"


def test_an_async_call_is_queued_and_run_without_its_credentials(lan_runtime: LocalRuntime,
                                                                  receiver: Receiver) -> None:
    reply = call("POST", f"{lan_runtime.gateway}/async-function/echo", b"{}",
                 {**CREDENTIALS, "Content-Type": "application/json", "X-Callback-Url": receiver.url})
    assert reply.status == 202
    assert wait_for(lambda: receiver.received, 20)
    seen = {k.lower(): v for k, v in json.loads(receiver.received[0][1])["headers"].items()}
    assert seen["content-type"] == "application/json" and seen["x-call-id"] == reply.headers["X-Call-Id"]
    assert not {k.lower() for k in CREDENTIALS} & set(seen)
    at_rest = b"".join(queued(lan_runtime))
    assert reply.headers["X-Call-Id"].encode() in at_rest
    assert [value for value in CREDENTIALS.values() if value.encode() in at_rest] == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/done", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.1/x", "ftp://example.com/x", "http://user:pw@example.com/"])
def test_a_callback_url_the_ssrf_guard_refuses_is_a_400_and_nothing_is_queued(guarded_runtime: LocalRuntime,
                                                                               url: str) -> None:
    before = len(queued(guarded_runtime))
    reply = call("POST", f"{guarded_runtime.gateway}/async-function/echo", b"x", {"X-Callback-Url": url})
    assert reply.status == 400, reply.body
    assert reply.json()["error"]["code"] == "bad_callback_url"
    assert len(queued(guarded_runtime)) == before


def test_a_queued_call_whose_callback_is_private_is_run_but_not_called_back(guarded_runtime: LocalRuntime,
                                                                            receiver: Receiver) -> None:
    """Whoever can publish on NATS can queue a call: the target is checked again before the result is sent."""
    call_id = str(uuid.uuid4())
    doc = {"call_id": call_id, "function": "echo", "path": "", "query": "", "callback": receiver.url,
           "headers": {"X-Callback-Url": receiver.url}, "body": base64.b64encode(b"queued").decode()}
    refused = sample(f"{guarded_runtime.gateway}/metrics", "ha_ingestor_async_callbacks_total", outcome="refused")
    ran = sample(f"{guarded_runtime.gateway}/metrics", "ha_ingestor_async_calls_total", function="echo", outcome="ok")
    js = JetStreamClient(guarded_runtime.nats_url)
    try:
        js.publish("faas.async.echo", jsoncodec.dumps(doc), msg_id=call_id)
    finally:
        js.close()
    assert wait_for(lambda: sample(f"{guarded_runtime.gateway}/metrics", "ha_ingestor_async_calls_total",
                                   function="echo", outcome="ok") == ran + 1, 20)
    assert wait_for(lambda: sample(f"{guarded_runtime.gateway}/metrics", "ha_ingestor_async_callbacks_total",
                                   outcome="refused") == refused + 1, 10)
    assert receiver.received == []


def test_a_callback_answered_with_a_redirect_is_not_followed(lan_runtime: LocalRuntime, receiver: Receiver) -> None:
    redirecting = Receiver(redirect_to=receiver.url)
    metrics_url = f"{lan_runtime.gateway}/metrics"
    delivered = sample(metrics_url, "ha_ingestor_async_callbacks_total", outcome="delivered")
    try:
        reply = call("POST", f"{lan_runtime.gateway}/async-function/echo", b"x", {"X-Callback-Url": redirecting.url})
        assert reply.status == 202
        # counted once the POST has its answer: a followed redirect would have reached `receiver` by then
        assert wait_for(lambda: sample(metrics_url, "ha_ingestor_async_callbacks_total",
                                       outcome="delivered") == delivered + 1, 20)
        assert len(redirecting.received) == 1 and receiver.received == []
    finally:
        redirecting.close()
