"""JSON through orjson, in one place, so every stage encodes the same way."""

from __future__ import annotations

import threading
from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
Fragment = orjson.Fragment
"""JSON already encoded, which dumps places into a document as it is (validate's events, encoded once)."""
EncodeError = orjson.JSONEncodeError
"""A value JSON cannot carry: nested past orjson's own limit (254 levels), an integer beyond 64 bits…"""

MAX_DEPTH = 128
"""The deepest value any stage takes in: well inside what orjson encodes, so no stage meets EncodeError
for a value it parsed itself. validate's own limit (VALIDATE_MAX_DEPTH, 64) may be set up to this."""


_CONTAINERS = (dict, list, tuple)


def dumps(value: Any, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON; `sort_keys` gives the canonical form hashes are taken over. Keys that are not strings
    are written as strings."""
    return _dumps(value, orjson.OPT_SORT_KEYS if sort_keys else 0)


def _dumps(value: Any, option: int) -> bytes:
    """orjson.dumps, asked first without OPT_NON_STR_KEYS: that option nearly doubles the cost of every encoding
    (orjson then checks each key's type), and only a value with a key that is not a string needs it (never
    decoded JSON). Such a value, or one JSON cannot carry, is encoded again with it, as always before: same bytes,
    same error."""
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


ORJSON_DEPTH = 254
"""The deepest value orjson encodes ({} is one level); one level more is EncodeError."""
_shells: dict[int, tuple[list[Any], list[Any]]] = {}
_shell_lock = threading.Lock()


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays in `value` nest more than `limit` levels ({} is one level).

    First asked of orjson, in C: `value` placed (254 - limit) lists deep encodes exactly when it is no deeper
    than `limit` (a few µs for a typical event). When that fails (too deep, or not JSON at all) a walk with its
    own stack says which, so a hostile value costs time in proportion to its size and never the interpreter's
    recursion.
    """
    if type(value) not in _CONTAINERS:
        return False
    if limit < ORJSON_DEPTH:
        with _shell_lock:  # orjson holds the GIL throughout: the lock only keeps the shells' holes apart
            outer, hole = _shell(ORJSON_DEPTH - limit)
            hole[0] = value
            try:
                _dumps(outer, 0)
                return False
            except orjson.JSONEncodeError:
                pass
            finally:
                hole[0] = None
    return _walk_deeper_than(value, limit)


def dumps_within(value: Any, limit: int) -> bytes | None:
    """dumps(value) when objects and arrays in it nest at most `limit` levels, else None (deeper, or not JSON:
    depth_problem and dumps then say which). One encoding does both, placed in nested_deeper_than's shell: an
    event is measured and passed on as the bytes its depth was checked by."""
    if type(value) not in _CONTAINERS or limit >= ORJSON_DEPTH:
        return None
    levels = ORJSON_DEPTH - limit
    with _shell_lock:
        outer, hole = _shell(levels)
        hole[0] = value
        try:
            return _dumps(outer, 0)[levels:-levels]
        except orjson.JSONEncodeError:
            return None
        finally:
            hole[0] = None


def _shell(levels: int) -> tuple[list[Any], list[Any]]:
    """`levels` lists nested in each other (the innermost holding one slot), made once per depth."""
    if levels not in _shells:
        hole: list[Any] = [None]
        outer = hole
        for _ in range(levels - 1):
            outer = [outer]
        _shells[levels] = (outer, hole)
    return _shells[levels]


def _walk_deeper_than(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, level = pop()
        if level > limit:
            return True
        for child in item.values() if type(item) is dict else item:
            if type(child) in _CONTAINERS:
                push((child, level + 1))
    return False


def depth_problem(value: Any, limit: int) -> str | None:
    """The dead-letter reason for a value nested past `limit`, or None."""
    if nested_deeper_than(value, limit):
        return f"nested deeper than {limit} levels"
    return None
