"""The topic connector's POSTs to a function's process inside the local runtime, on connections kept alive.

Every batch of the pipeline is one such call per stage (five per batch: validate, normalize, weather-enrich,
write, webhook-dispatch), from the runtime's own gateway (localfaas.gateway, `Gateway.call`) to the template's
HTTP server on loopback. aiohttp's client spends about 0.35 ms of the runtime's CPU on each; this exchange, a
request written in one piece (a large body right after its head) and an HTTP/1.1 answer read by its
Content-Length (or chunks, or until the connection closes), about 0.14 ms. The gateway's own HTTP route (any
method, path and caller) keeps aiohttp.

A connection is reused only after a whole answer was read from it and neither side asked to close it; one that
fails, times out or is cancelled mid-exchange is closed, never reused. A kept connection the function closes just
as a call is written on it (waitress closes one idle for its channel timeout) breaks before any byte of an answer:
that call is made once more on a new connection, as HTTP clients do, instead of failing the message (a stage's call
is idempotent: its ids are derived). Failures raise `Failed` (naming the underlying error) or TimeoutError; what
they mean for the message is the gateway's and the connector's to say.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit

IDLE_PER_FUNCTION = 16
"""Idle connections kept per function: more than the connector's concurrent calls of one (4 per topic)."""
HEAD_LIMIT = 64 * 1024
"""The longest status line and headers read from a function (asyncio's default stream limit)."""
ONE_PIECE_BYTES = 64 * 1024
"""A body up to this size is written joined to its request head, in one send; a larger one (a coalesced call,
up to 512 KiB) after it, as it is: joining it copied the whole body into a second large buffer, whose release let
the C allocator hand the memory back and fault it in again for the next call (a 381 KB body joined to its head:
210-220 µs of CPU in a microbenchmark of the same buffers; py-spy found 13% of the runtime's samples in that join)."""


class Failed(Exception):
    """The exchange broke (refused, reset, closed early, not HTTP); the message names the underlying error."""


class _Unanswered(Exception):
    """The connection broke before any byte of the answer (`error`): the call was not answered."""

    def __init__(self, error: Exception) -> None:
        super().__init__(repr(error))
        self.error = error


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class DirectCalls:
    def __init__(self) -> None:
        self._idle: dict[str, list[Connection]] = {}

    async def post(self, url: str, headers: Mapping[str, str], body: bytes,
                   timeout: float) -> tuple[int, bytes, dict[str, str]]:
        """POST `body` to `url` ("http://host:port"): (status, body, headers) of the answer, within `timeout`
        seconds from the connection (made or reused) to the answer's last byte."""
        where = urlsplit(url)
        head = _request_head(where.netloc, headers, len(body))
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(url, where.hostname, where.port, head, body)
        except TimeoutError:
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise Failed(type(exc).__name__) from None

    async def _exchange(self, url: str, host: str | None, port: int | None, head: bytes,
                        body: bytes) -> tuple[int, bytes, dict[str, str]]:
        idle = self._take(url)
        if idle is not None:
            try:
                return await self._over(url, idle, head, body)
            except _Unanswered:  # closed by the function as the call was written: once more, on a new one
                pass
        try:
            return await self._over(url, await asyncio.open_connection(host, port, limit=HEAD_LIMIT), head, body)
        except _Unanswered as exc:
            raise exc.error from None

    async def _over(self, url: str, connection: Connection, head: bytes,
                    body: bytes) -> tuple[int, bytes, dict[str, str]]:
        """The exchange on `connection`; _Unanswered when it broke before any byte of the answer."""
        reader, writer = connection
        kept = False
        try:
            try:
                if len(body) <= ONE_PIECE_BYTES:
                    writer.write(head + body)
                else:
                    writer.write(head)
                    writer.write(body)
                await writer.drain()
                first = await reader.readuntil(b"\r\n\r\n")
            except (ConnectionResetError, BrokenPipeError) as exc:
                raise _Unanswered(exc) from exc
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise
                raise _Unanswered(exc) from exc
            status, answer, received, kept = await _read_answer(reader, first)
            return status, answer, received
        finally:  # failed, timed out or cancelled mid-exchange: what is left on the connection is unknown
            if kept:
                self._keep(url, connection)
            else:
                writer.close()

    def _take(self, url: str) -> Connection | None:
        idle = self._idle.get(url) or []
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():  # the function closed it meanwhile (restart, idle)
                return reader, writer
            writer.close()
        return None

    def _keep(self, url: str, connection: Connection) -> None:
        idle = self._idle.setdefault(url, [])
        idle.append(connection)
        while len(idle) > IDLE_PER_FUNCTION:
            idle.pop(0)[1].close()

    def close(self) -> None:
        for idle in self._idle.values():
            for _, writer in idle:
                writer.close()
        self._idle.clear()


def _request_head(host: str, headers: Mapping[str, str], length: int) -> bytes:
    lines = [f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"]
    for name, value in headers.items():
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        if any(c in name or c in value for c in "\r\n\0"):
            raise Failed(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


async def _read_answer(reader: asyncio.StreamReader, first: bytes) -> tuple[int, bytes, dict[str, str], bool]:
    """(status, body, headers, whether the connection may carry another request), from the `first` head read."""
    raw = first
    while True:
        head = raw.decode("latin-1")
        status_line, *lines = head[:-4].split("\r\n")
        version, status_text = status_line.split(" ", 2)[:2]
        status = int(status_text)
        if status >= 200:
            break
        raw = await reader.readuntil(b"\r\n\r\n")  # an interim 1xx answer is skipped: the final one follows
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"not a header line: {line[:100]!r}")
        headers[name.strip()] = value.strip()
    fields = {k.lower(): v.lower() for k, v in headers.items()}
    keep_alive = version == "HTTP/1.1" and fields.get("connection") != "close"
    if status in (204, 304):
        return status, b"", headers, keep_alive
    if "chunked" in fields.get("transfer-encoding", ""):
        return status, await _chunks(reader), headers, keep_alive
    if "content-length" in fields:
        return status, await reader.readexactly(int(fields["content-length"])), headers, keep_alive
    return status, await reader.read(), headers, False  # delimited by the connection's end


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any, up to the blank line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("a chunk not ended by CRLF")
