"""Keyset pagination cursors: the sort key of a page's last item, handed out opaque and checked on the way back.

A cursor comes back from a client, so it is checked whole where it is decoded: its form (URL-safe base64
of a JSON array, at most MAX_CURSOR characters), its shape (the key's types, in order), integers within
64 bits and the kind's range, strings without NUL (PostgreSQL refuses it). Whatever fails is a CursorError,
which the HTTP edge answers with a 400 naming the parameter: a database never sees a value it cannot take.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from ingestor import jsoncodec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_CURSOR = 2048  # a device's name is part of its key
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+\Z")
_DIGITS = re.compile(r"[0-9]{1,19}\Z")


class CursorError(ValueError):
    """Not a cursor this API made; the message says what is expected (safe to show)."""

    def __init__(self) -> None:
        super().__init__("a next_cursor given by this API, unchanged")


@dataclass(frozen=True)
class Keyset:
    """One kind of cursor: the types of its key and the range its integers may take."""

    shape: tuple[type, ...]
    low: int = INT64_MIN
    high: int = INT64_MAX

    def encode(self, *key: Any) -> str:
        return base64.urlsafe_b64encode(jsoncodec.dumps(list(key))).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[Any, ...]:
        """The key; CursorError for anything `encode` did not make."""
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR or not _BASE64URL.match(cursor):
            raise CursorError
        try:
            key = jsoncodec.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError):
            raise CursorError from None
        if not isinstance(key, list) or len(key) != len(self.shape):
            raise CursorError
        for value, kind in zip(key, self.shape, strict=True):
            if type(value) is not kind:  # not isinstance: True is an int, and 1.0 is no integer
                raise CursorError
            if kind is int and not self.low <= value <= self.high:
                raise CursorError
            if kind is str and "\x00" in value:
                raise CursorError
        return tuple(key)


def row_id(raw: str) -> int:
    """A cursor that is a row id (an ascending database sequence): ASCII digits, 1 to 2^63-1.

    str.isdigit() would take "²" or "①", which int() then refuses; 20 digits would overflow the column."""
    if not isinstance(raw, str) or not _DIGITS.match(raw) or not 1 <= int(raw) <= INT64_MAX:
        raise CursorError
    return int(raw)
