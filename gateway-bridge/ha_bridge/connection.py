"""One WebSocket connection to HA: handshake and auth, then a reader thread that never waits on anything.

HA drops a client that leaves more than 1024 messages pending for 5 s, so the reader thread only
decodes frames and hands each message off (events to a callback that enqueues, replies to their
waiters). Commands are sent from other threads; an id is taken and sent under one lock, so ids go
out strictly increasing as HA requires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import websocket
from websocket import ABNF

from ha_bridge import protocol
from ha_bridge.protocol import AuthInvalid, Malformed, ProtocolError
from ha_bridge.settings import Settings
from ingestor import metrics

log = logging.getLogger(__name__)

_frames = metrics.counter("bridge_frames_total", "WebSocket frames read from HA, by shape", ["shape"])
_malformed = metrics.counter("bridge_malformed_messages_total", "Messages from HA that were logged and skipped")
_frame_bytes = metrics.histogram("bridge_frame_bytes", "Size of frames read from HA",
                                 buckets=(1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6))

MAX_LOGGED_MALFORMED = 20  # per connection: a server that only sends garbage must not flood the log


class ConnectionLost(Exception):
    """The connection closed (or was closed) before a reply arrived."""


class CommandFailed(Exception):
    """HA answered a command with success=false."""

    def __init__(self, kind: str, error: Any) -> None:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        super().__init__(f"{kind} failed: {code}: {message}")
        self.code = code


class Waiter:
    """The reply to one command (a result or a pong), filled in by the reader thread."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._done = threading.Event()
        self._message: dict[str, Any] | None = None
        self._error: Exception | None = None

    def resolve(self, message: dict[str, Any]) -> None:
        self._message = message
        self._done.set()

    def fail(self, error: Exception) -> None:
        self._error = error
        self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def message(self, timeout: float) -> dict[str, Any]:
        if not self._done.wait(timeout):
            raise TimeoutError(f"no reply to {self.kind} within {timeout:g} s")
        if self._error is not None:
            raise self._error
        assert self._message is not None
        return self._message

    def result(self, timeout: float) -> Any:
        message = self.message(timeout)
        if message.get("type") == "result" and not message.get("success"):
            raise CommandFailed(self.kind, message.get("error"))
        return message.get("result")


EventCallback = Callable[[dict[str, Any]], None]


class Connection:
    def __init__(self, settings: Settings, on_event: EventCallback) -> None:
        self.settings = settings
        self.on_event = on_event
        self.ha_version: str | None = None
        self.closed = threading.Event()
        self.close_reason: str | None = None
        self._ids = protocol.MessageIds()
        self._send_lock = threading.Lock()
        self._waiters: dict[int, Waiter] = {}
        self._waiters_lock = threading.Lock()
        self._ws: websocket.WebSocket | None = None
        self._reader: threading.Thread | None = None
        self._malformed_logged = 0

    # -- handshake ---------------------------------------------------------------------------------

    def open(self) -> str:
        """Connect, authenticate and start reading; returns HA's version.

        Raises AuthInvalid on a rejected token, ProtocolError on an unexpected handshake, and
        OSError / websocket errors when HA cannot be reached.
        """
        context = self.settings.ssl_context()
        sslopt: dict[str, Any] = {"context": context} if context else {}  # the context alone decides checks
        deadline = time.monotonic() + self.settings.connect_timeout_s
        ws = websocket.create_connection(
            self.settings.ws_url, timeout=self.settings.connect_timeout_s, sslopt=sslopt,
            skip_utf8_validation=True,  # orjson validates while parsing; the pure-Python check is slow
            enable_multithread=True, suppress_origin=True,
        )
        self._ws = ws
        try:
            first = self._handshake_message(ws, deadline)
            if first.get("type") != "auth_required":
                raise ProtocolError(f"expected auth_required, got {first.get('type')!r}")
            ws.send(protocol.encode(protocol.auth(self.settings.token)))  # within HA's 10 s window
            reply = self._handshake_message(ws, deadline)
            if reply.get("type") == "auth_invalid":
                raise AuthInvalid(str(reply.get("message") or "invalid access token"))
            if reply.get("type") != "auth_ok":
                raise ProtocolError(f"expected auth_ok, got {reply.get('type')!r}")
        except BaseException:
            self._abort()
            raise
        self.ha_version = str(reply.get("ha_version") or first.get("ha_version") or "unknown")
        ws.settimeout(None)  # from here on, liveness is the heartbeat's job, not a socket timeout
        self._reader = threading.Thread(target=self._read_loop, name="ha-reader", daemon=True)
        self._reader.start()
        return self.ha_version

    @staticmethod
    def _handshake_message(ws: websocket.WebSocket, deadline: float) -> dict[str, Any]:
        ws.settimeout(max(deadline - time.monotonic(), 0.1))
        opcode, data = ws.recv_data()
        if opcode == ABNF.OPCODE_CLOSE:
            raise ProtocolError("HA closed the connection during authentication")
        messages, malformed = protocol.decode_frame(data)
        if malformed or len(messages) != 1:
            raise ProtocolError("unreadable message during authentication")
        return messages[0]

    # -- commands ----------------------------------------------------------------------------------

    def send(self, kind: str, **fields: Any) -> Waiter:
        """Send a command; the returned Waiter gets its reply. Raises ConnectionLost when closed."""
        waiter = Waiter(kind)
        with self._send_lock:
            if self.closed.is_set() or self._ws is None:
                raise ConnectionLost(f"cannot send {kind}: connection closed")
            msg_id = self._ids.next()
            with self._waiters_lock:
                self._waiters[msg_id] = waiter
            try:
                self._ws.send(protocol.encode(protocol.command(msg_id, kind, **fields)))
            except (OSError, websocket.WebSocketException) as exc:
                self._lost(f"send failed: {type(exc).__name__}")
                raise ConnectionLost(f"cannot send {kind}: {type(exc).__name__}") from None
        return waiter

    def request(self, kind: str, timeout: float | None = None, **fields: Any) -> Any:
        """Send a command and wait for its result; raises CommandFailed, ConnectionLost or TimeoutError."""
        return self.send(kind, **fields).result(timeout or self.settings.request_timeout_s)

    # -- reading -----------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        ws = self._ws
        assert ws is not None
        reason = "closed by HA"
        try:
            while not self.closed.is_set():
                opcode, data = ws.recv_data()
                if opcode == ABNF.OPCODE_CLOSE:
                    break
                _frame_bytes.observe(len(data))
                if opcode != ABNF.OPCODE_TEXT:
                    self._skip([Malformed("unexpected binary frame", f"{len(data)} bytes")])
                    continue
                self._dispatch(data)
        except (OSError, websocket.WebSocketException) as exc:
            reason = f"{type(exc).__name__}: {exc}" if not self.closed.is_set() else "closed by the bridge"
        except Exception as exc:  # a bug in dispatch must not leave a connection that nobody reads
            log.exception("reader failed")
            reason = f"reader failed: {type(exc).__name__}"
        self._lost(reason)

    def _dispatch(self, frame: bytes) -> None:
        messages, malformed = protocol.decode_frame(frame)
        _frames.labels("array" if frame[:1] == b"[" else "single").inc()
        if malformed:
            self._skip(malformed)
        for message in messages:
            kind = message["type"]
            if kind == "event":
                event = protocol.event_of(message)
                if event is None:
                    self._skip([Malformed("event message without a usable 'event' object",
                                          protocol.sample(message))])
                else:
                    self.on_event(event)
            elif kind in ("result", "pong"):
                with self._waiters_lock:
                    waiter = self._waiters.pop(message.get("id"), None)  # type: ignore[arg-type]
                if waiter is None:
                    self._skip([Malformed(f"{kind} for unknown id {message.get('id')!r}",
                                          protocol.sample(message))])
                else:
                    waiter.resolve(message)
            else:
                self._skip([Malformed(f"unexpected message type {kind!r}", protocol.sample(message))])

    def _skip(self, malformed: list[Malformed]) -> None:
        _malformed.inc(len(malformed))
        for item in malformed:
            self._malformed_logged += 1
            if self._malformed_logged <= MAX_LOGGED_MALFORMED:
                log.warning("skipped a malformed message from HA", extra={"reason": item.reason, "sample": item.sample})
            elif self._malformed_logged == MAX_LOGGED_MALFORMED + 1:
                log.warning("more malformed messages on this connection; counting them without logging")

    # -- closing -----------------------------------------------------------------------------------

    def _lost(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        self.closed.set()
        with self._waiters_lock:
            waiters, self._waiters = list(self._waiters.values()), {}
        for waiter in waiters:
            waiter.fail(ConnectionLost(f"connection lost: {reason}"))
        self._abort()

    def _abort(self) -> None:
        ws = self._ws
        if ws is not None:
            ws.abort()  # wakes the reader blocked in recv
            ws.shutdown()

    def close(self, reason: str = "closed by the bridge") -> None:
        if self.close_reason is None:
            self.close_reason = reason
        self._lost(reason)
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5)
