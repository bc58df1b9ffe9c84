"""What the fuzz sends: the pipeline functions' real inputs with values replaced or removed, any JSON, any bytes,
and request paths of any characters, as hypothesis strategies (seeded by the tests that draw from them)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from ingestor import normalization
from tests.queries import dataset
from tests.support.ha_events import sample_events
from tests.webhooks.events import ha_record, sports_event

Path = tuple[str | int, ...]

LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
          | st.floats() | st.text(max_size=40) | st.sampled_from(["", "NaN", "2026-11-20T12:00:00Z", "9" * 30,
                                                                  "light.kitchen", "\x00", "../../etc/passwd"]))
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                           max_size=4), max_leaves=12)
PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def dumps(value: Any) -> bytes:
    """JSON as any client might write it: NaN and Infinity included, lone surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode()


def _paths(value: Any, at: Path = ()) -> Iterator[Path]:
    if at:
        yield at
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*at, key))


def _apply(value: Any, edits: list[tuple[Path, bool, Any]]) -> Any:
    for path, remove, replacement in edits:
        parent = value
        for key in path[:-1]:
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                break
        else:
            try:
                if remove:
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = replacement
            except (KeyError, IndexError, TypeError):
                pass
    return value


def mutated(sample: Any) -> st.SearchStrategy[Any]:
    """`sample` with one to three of its values replaced by any JSON value, or removed."""
    edit = st.tuples(st.sampled_from(list(_paths(sample))), st.booleans(), JSON)
    return st.lists(edit, min_size=1, max_size=3).map(lambda edits: _apply(copy.deepcopy(sample), edits))


def bodies(samples: list[Any]) -> st.SearchStrategy[bytes]:
    """Batch envelopes of mutated samples (mostly), mutated envelopes, any JSON and any bytes."""
    event = st.one_of(*(mutated(s) for s in samples)) | JSON
    batch_id = st.from_regex(r"[A-Za-z0-9_.:-]{1,24}", fullmatch=True)
    envelope = st.builds(lambda b, events: {"v": 1, "batch_id": b, "events": events}, batch_id,
                         st.lists(event, min_size=1, max_size=4))
    return st.one_of(envelope.map(dumps), envelope.map(dumps), mutated({"v": 1, "batch_id": "b", "events": samples})
                     .map(dumps), JSON.map(dumps), st.binary(max_size=300))


def raw_events() -> list[Any]:
    return sample_events()


def records() -> list[Any]:
    return [normalization.normalize_event(e) for e in sample_events()]


def dispatched() -> list[Any]:
    return [*records(), ha_record("light.kitchen"), sports_event()]


def registry_parts() -> list[Any]:
    return dataset.registry_parts()


def paths(known: list[str]) -> st.SearchStrategy[str]:
    """A function's own paths, those with odd segments added, and paths of any characters (percent-encoded as a
    client sends them, with raw %-sequences kept), some very long."""
    segment = st.text(max_size=30) | st.sampled_from(["..", ".", "", "%2e%2e", "%00", "%ff", "%zz", "a" * 5000,
                                                       "static", "index.html", "js", "openapi.json"])
    tail = st.lists(segment, max_size=4).map(lambda parts: "/".join(parts))
    built = st.tuples(st.sampled_from(known), tail, st.booleans()).map(
        lambda t: t[0] + ("/" + t[1] if t[1] or t[2] else ""))
    return (st.sampled_from(known) | built).map(lambda p: quote(p, safe="/%"))


def queries(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    values = st.text(max_size=40) | st.sampled_from(["1", "true", "2026-11-20", "0001-01-01", "9999-12-31",
                                                     "2026-02-30", "-1", "9" * 40])
    return st.dictionaries(st.sampled_from(names) | st.text(max_size=8), values, max_size=3)
