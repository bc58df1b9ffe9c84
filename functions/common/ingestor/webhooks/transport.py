"""HTTP connections that write a request's head and body in one write.

http.client (under requests and urllib3) writes the head, then the body, with two writes. A sender
killed between them (kill -9, the OOM killer, a crash) leaves the receiver a request whose
Content-Length promises a body that never comes; a receiver that does not check it sees an empty
body. With one write the kernel has the whole request or none of it when the process dies (for
requests that fit the socket's send buffer, as events do: larger ones can still be cut, and a
receiver must compare the body with Content-Length, which the signature check does too).
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection


class _OneWrite:
    """Keeps the head endheaders() writes and sends it with the first piece of the body."""

    _head: bytes | None = None  # b"": the next write is the head; bytes: the head, waiting for the body

    def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
        self._head = b""
        super().endheaders(message_body, encode_chunked=encode_chunked)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        if self._head == b"" and isinstance(data, bytes | bytearray):
            self._head = bytes(data)
            return
        if self._head:
            head, self._head = self._head, None
            if isinstance(data, bytes | bytearray):
                data = head + data
            else:
                super().send(head)  # type: ignore[misc]
        super().send(data)  # type: ignore[misc]

    def getresponse(self) -> Any:
        if self._head:  # a request without a body: its head goes now
            head, self._head = self._head, None
            super().send(head)  # type: ignore[misc]
        self._head = None
        return super().getresponse()  # type: ignore[misc]


class OneWriteHTTPConnection(_OneWrite, HTTPConnection):
    pass


class OneWriteHTTPSConnection(_OneWrite, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = OneWriteHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = OneWriteHTTPSConnection


class OneWriteAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, its pools making one-write connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
