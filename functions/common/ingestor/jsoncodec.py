"""JSON through orjson, in one place, so every stage encodes the same way."""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(value: Any, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON; `sort_keys` gives the canonical form hashes are taken over."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(value, option=option)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
