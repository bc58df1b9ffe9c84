"""Dead-letter records on `ha.events.dlq` (ingestor.subjects.DLQ): what failed, where, and why, with the payload kept.

A dead letter is the last resort of every failure path, so `record` never raises and what it returns
always fits the room it is given (the NATS max_payload): a payload that JSON cannot carry (nested past
orjson's limit, a value of no JSON type) or that does not fit is kept as a truncated text with its
original size and why it was cut, instead of the record failing and the message coming back forever.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from ingestor import jsoncodec

DEFAULT_MAX_BYTES = 1024 * 1024 - 1024
"""NATS' default max_payload, less room for headers; writers pass their connection's own limit."""
REASON_CHARS = 2000
PREVIEW_CHARS = 64 * 1024
"""What is kept of a payload JSON cannot encode: the start of its text, walked without recursion."""
_FIELD_CHARS = 500
_RESERVED = ("reason", "payload", "payload_encoding", "payload_bytes")


def payload_of(body: bytes) -> dict[str, Any]:
    """Keep a message body losslessly: as JSON when it parses, else as text, else base64; with its size."""
    kept: dict[str, Any]
    try:
        kept = {"payload": jsoncodec.loads(body)}
    except jsoncodec.JSONDecodeError:
        try:
            kept = {"payload": body.decode("utf-8"), "payload_encoding": "text"}
        except UnicodeDecodeError:
            kept = {"payload": base64.b64encode(body).decode(), "payload_encoding": "base64"}
    return {**kept, "payload_bytes": len(body)}


def record(dlq_id: str, stage: str, subject: str, entries: list[Any], max_bytes: int = DEFAULT_MAX_BYTES,
           **extra: Any) -> bytes:
    """One DLQ message of at most `max_bytes`: `entries` are {"reason", "payload", ...}; `extra` adds
    status, deliveries… Never raises: see the module's docstring for what a payload becomes."""
    head = {"v": 1, "dlq_id": dlq_id, "stage": stage, "subject": subject,
            "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            **extra}
    try:
        encoded = jsoncodec.dumps({**head, "entries": entries})
        if len(encoded) <= max_bytes:
            return encoded
    except Exception:  # whatever a payload holds, the fallback below can write it
        pass
    safe_head = {_text(k, 100): _scalar(v) for k, v in head.items()}
    return _fitted(safe_head, [_Kept.of(entry) for entry in entries], max_bytes)


@dataclass
class _Kept:
    """One entry made safe: its small fields, its payload whole if JSON can carry it, and as text to cut."""

    fields: dict[str, Any]
    whole: dict[str, Any] | None
    text: str
    form: str
    size: int | None
    problem: str | None

    @classmethod
    def of(cls, entry: Any) -> _Kept:
        if not isinstance(entry, dict):
            entry = {"reason": "unknown", "payload": entry}
        fields = {"reason": _text(entry.get("reason", "unknown"), REASON_CHARS)}
        fields.update({_text(k, 100): _scalar(v) for k, v in entry.items() if k not in _RESERVED})
        payload, size = entry.get("payload"), entry.get("payload_bytes")
        size = size if isinstance(size, int) and not isinstance(size, bool) else None
        encoding = entry.get("payload_encoding")
        if encoding in ("text", "base64") and isinstance(payload, str):
            text = _text(payload, None)
            return cls(fields, {"payload": text, "payload_encoding": encoding}, text, encoding, size, None)
        try:
            if jsoncodec.nested_deeper_than(payload, jsoncodec.MAX_DEPTH):  # deeper still inside the record
                raise ValueError(f"nested deeper than {jsoncodec.MAX_DEPTH} levels")
            text = jsoncodec.dumps(payload).decode()
        except Exception as exc:  # the reason is recorded, the payload previewed
            return cls(fields, None, _preview(payload, PREVIEW_CHARS), "json", size,
                       f"payload cannot be encoded as JSON ({_text(exc, 200)})")
        return cls(fields, {"payload": payload}, text, "json", size if size is not None else len(text), None)

    def within(self, room: int) -> dict[str, Any]:
        """The entry with its payload whole when its text fits `room` characters, else cut to them."""
        if self.whole is not None and len(self.text) <= room:
            return {**self.fields, **self.whole}
        problem = self.problem or f"payload of {self.size} bytes cut to fit the dead letter"
        return {**self.fields, "payload": self.text[:room], "payload_encoding": f"truncated-{self.form}",
                "payload_bytes": self.size, "truncated": problem}


def _fitted(head: dict[str, Any], kept: list[_Kept], max_bytes: int) -> bytes:
    """Halve the room of each payload, then the number of entries, until the record fits."""
    room = max_bytes // max(len(kept), 1)
    count = len(kept)
    while True:
        doc: dict[str, Any] = {**head, "entries": [k.within(room) for k in kept[:count]]}
        if count < len(kept):
            doc["entries_omitted"] = len(kept) - count
        encoded = jsoncodec.dumps(doc)
        if len(encoded) <= max_bytes or (room == 0 and count == 0):
            return encoded
        if room:
            room = room // 2 if room > 64 else 0
        else:
            count //= 2


def _text(value: Any, limit: int | None) -> str:
    """A string JSON can carry (lone surrogates escaped), cut to `limit` characters."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # a repr that fails still leaves a name
        text = f"<{type(value).__name__}>"
    text = text[:limit] if limit is not None else text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _scalar(value: Any) -> Any:
    """A small field as JSON can carry it: numbers within 64 bits and short strings; anything else as text."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**64:
        return value
    return _text(value, _FIELD_CHARS)


class _Raw(str):
    """A piece of preview text already written (a bracket, a comma, a key)."""


def _preview(value: Any, limit: int) -> str:
    """The first `limit` characters of `value` written as JSON would be, however deep it nests."""
    pieces: list[str] = []
    size = 0
    stack: list[Any] = [value]
    while stack and size < limit:
        item = stack.pop()
        if isinstance(item, _Raw):
            piece = str(item)
        elif isinstance(item, dict):
            piece = "{"
            stack.append(_Raw("}"))
            for index, (key, child) in reversed(list(enumerate(item.items()))):
                stack.append(child)
                stack.append(_Raw(("," if index else "") + _quoted(key) + ":"))
        elif isinstance(item, list | tuple):
            piece = "["
            stack.append(_Raw("]"))
            for index, child in reversed(list(enumerate(item))):
                stack.append(child)
                if index:
                    stack.append(_Raw(","))
        elif isinstance(item, str):
            piece = _quoted(item)
        else:
            try:
                piece = jsoncodec.dumps(item).decode()
            except Exception:  # not a JSON value: its repr, quoted
                piece = _quoted(_text(item, 200))
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)[:limit]


def _quoted(value: Any) -> str:
    return jsoncodec.dumps(_text(value if isinstance(value, str) else str(value), None)).decode()
