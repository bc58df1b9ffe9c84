"""JSON through orjson, in one place, so every stage encodes the same way."""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
EncodeError = orjson.JSONEncodeError
"""A value JSON cannot carry: nested past orjson's own limit (254 levels), an integer beyond 64 bits…"""

MAX_DEPTH = 128
"""The deepest value any stage takes in: well inside what orjson encodes, so no stage meets EncodeError
for a value it parsed itself. validate's own limit (VALIDATE_MAX_DEPTH, 64) may be set up to this."""


_CONTAINERS = (dict, list, tuple)


def dumps(value: Any, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON; `sort_keys` gives the canonical form hashes are taken over."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(value, option=option)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays in `value` nest more than `limit` levels ({} is one level).

    Walks with its own stack, so a hostile value costs time in proportion to its size and never the
    interpreter's recursion (about 10 µs for a typical state_changed event).
    """
    if type(value) not in _CONTAINERS:
        return False
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
