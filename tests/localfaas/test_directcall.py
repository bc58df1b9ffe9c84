"""The runtime's calls to a function's process for the topic connector (localfaas.directcall): the template's
real server for what a call carries, and a raw HTTP server on 127.0.0.1 for the ways an answer can be framed,
a connection closed under it, and a function that does not answer."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Iterator

import pytest

from localfaas.directcall import ONE_PIECE_BYTES, DirectCalls, Failed
from localfaas.ports import reserve
from tests.support.function import served
from tests.support.runtime import REPO

pytestmark = pytest.mark.integration

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("echo") / "echo.log"
    with served(REPO / "tests" / "fake_functions" / "echo", "echo", log) as url:
        yield url


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    return await reader.readexactly(length)


def serve(answer: Answer, calls: Callable[[DirectCalls, str], Awaitable[object]]) -> tuple[object, int]:
    """Run `calls` against a server answering each connection with `answer`: (their result, connections made)."""
    connections = 0

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await answer(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run_calls() -> object:
        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = DirectCalls()
        try:
            return await calls(client, f"http://127.0.0.1:{port}")
        finally:
            client.close()
            server.close()

    result = asyncio.run(run_calls())
    return result, connections


def test_a_call_reaches_the_function_as_sent_and_its_answer_comes_back(echo: str) -> None:
    async def call() -> tuple[int, bytes, dict[str, str]]:
        client = DirectCalls()
        try:
            return await client.post(echo, {"X-Nats-Subject": "ha.events.raw", "Content-Type": "application/json"},
                                      b'{"v": 1}', timeout=10)
        finally:
            client.close()

    status, body, headers = asyncio.run(call())
    seen = json.loads(body)
    assert (status, headers["X-Echo"]) == (200, "yes")
    assert (seen["method"], seen["path"], base64.b64decode(seen["body"])) == ("POST", "/", b'{"v": 1}')
    assert seen["headers"]["x-nats-subject"] == "ha.events.raw"
    assert seen["headers"]["content-length"] == "8"


def test_one_connection_carries_call_after_call() -> None:
    async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            body = await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    async def three(client: DirectCalls, url: str) -> list[bytes]:
        return [(await client.post(url, {}, b"call %d" % i, timeout=5))[1] for i in range(3)]

    bodies, connections = serve(keep_answering, three)
    assert (bodies, connections) == ([b"call 0", b"call 1", b"call 2"], 1)


def test_a_chunked_answer_is_read_whole() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")
        await reader.read()

    (status, body, _), _ = serve(chunked, lambda client, url: client.post(url, {}, b"x", timeout=5))
    assert (status, body) == (201, b"hello, world")


def test_an_answer_ended_by_closing_the_connection_is_read_whole_and_the_next_call_opens_another() -> None:
    async def then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")

    async def twice(client: DirectCalls, url: str) -> list[bytes]:
        return [(await client.post(url, {}, b"x", timeout=5))[1] for _ in range(2)]

    bodies, connections = serve(then_close, twice)
    assert (bodies, connections) == ([b"until the end"] * 2, 2)


def test_a_connection_the_function_closed_while_idle_is_not_reused() -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()  # answered with keep-alive, then closed, as a restarted or idle-timed-out server does

    async def after_a_pause(client: DirectCalls, url: str) -> list[int]:
        first = (await client.post(url, {}, b"x", timeout=5))[0]
        await asyncio.sleep(0.2)
        return [first, (await client.post(url, {}, b"x", timeout=5))[0]]

    statuses, connections = serve(one_then_close, after_a_pause)
    assert (statuses, connections) == ([200, 200], 2)


def answered_then_closed_unanswered(answers: int) -> Answer:
    """Each connection answers its first request (kept alive); then, up to `answers` answers in all, a later request
    on it is read and the connection closed unanswered, as a function closing an idle connection just as a call
    is written on it; past `answers`, every request is closed unanswered."""
    answered = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        await read_request(reader)
        if answered >= answers:
            return
        answered += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await read_request(reader)

    return answer


def test_a_kept_connection_closed_as_a_call_is_written_on_it_is_called_again_on_a_new_one() -> None:
    async def twice(client: DirectCalls, url: str) -> list[int]:
        return [(await client.post(url, {}, b"x", timeout=5))[0] for _ in range(2)]

    statuses, connections = serve(answered_then_closed_unanswered(answers=2), twice)
    assert (statuses, connections) == ([200, 200], 2)


def test_a_call_closed_unanswered_on_a_new_connection_is_a_failure_not_called_again() -> None:
    with pytest.raises(Failed, match="IncompleteReadError"):
        serve(answered_then_closed_unanswered(answers=0), lambda client, url: client.post(url, {}, b"x", timeout=5))


def test_a_call_made_again_on_a_new_connection_and_closed_unanswered_there_too_is_a_failure() -> None:
    async def twice(client: DirectCalls, url: str) -> list[object]:
        first = (await client.post(url, {}, b"x", timeout=5))[0]
        try:
            await client.post(url, {}, b"x", timeout=5)
        except Failed as exc:
            return [first, str(exc)]
        return [first, "answered"]

    outcome, connections = serve(answered_then_closed_unanswered(answers=1), twice)
    assert (outcome, connections) == ([200, "IncompleteReadError"], 2)


def test_a_function_that_does_not_answer_in_time_times_out_and_its_connection_is_dropped() -> None:
    answered = 0

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        while True:
            await read_request(reader)
            answered += 1
            if answered == 1:
                await asyncio.sleep(1)  # the late answer must not be taken for the next call's
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")

    async def timeout_then_call(client: DirectCalls, url: str) -> list[object]:
        with pytest.raises(TimeoutError):
            await client.post(url, {}, b"x", timeout=0.2)
        return [(await client.post(url, {}, b"y", timeout=5))[1]]

    bodies, connections = serve(slow_first, timeout_then_call)
    assert (bodies, connections) == ([b"next"], 2)


def test_a_function_not_listening_is_a_failure_naming_why() -> None:
    with reserve() as port, pytest.raises(Failed, match="ConnectionRefusedError"):  # held, nobody listening
        asyncio.run(DirectCalls().post(f"http://127.0.0.1:{port.port}", {}, b"x", timeout=5))


def test_an_answer_that_is_not_http_is_a_failure() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\nnot: http\r\n\r\n")
        await reader.read()

    async def call(client: DirectCalls, url: str) -> object:
        with pytest.raises(Failed, match="ValueError"):
            await client.post(url, {}, b"x", timeout=5)
        return None

    serve(garbage, call)


def test_a_body_larger_than_one_piece_reaches_the_function_whole(echo: str) -> None:
    """A coalesced call's body (past ONE_PIECE_BYTES) is written after its head, not joined to it."""
    body = bytes(range(256)) * 1500 + b"end"  # 384,003 bytes

    async def call() -> tuple[int, bytes, dict[str, str]]:
        client = DirectCalls()
        try:
            return await client.post(echo, {"Content-Type": "application/json"}, body, timeout=10)
        finally:
            client.close()

    status, answer, _ = asyncio.run(call())
    seen = json.loads(answer)
    assert status == 200 and len(body) > ONE_PIECE_BYTES
    assert (seen["headers"]["content-length"], base64.b64decode(seen["body"])) == (str(len(body)), body)
