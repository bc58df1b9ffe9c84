"""ingestor.jsoncodec: the depth bound every stage applies, asked of orjson and exact at every limit."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ingestor import jsoncodec


def nested(levels: int, rng: random.Random, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


@pytest.mark.parametrize("limit", [1, 4, 64, 128, 253, 254, 300])
def test_the_depth_bound_is_exact_at_every_limit(limit: int) -> None:
    rng = random.Random(limit)
    for levels in (limit - 1, limit, limit + 1, 255, 1000):
        value = nested(levels, rng)
        assert jsoncodec.nested_deeper_than(value, limit) is (levels > limit), (levels, limit)


def test_a_batch_is_bounded_by_its_deepest_event() -> None:
    rng = random.Random(7)
    batch = [nested(3, rng), nested(10, rng), nested(2, rng)]
    assert not jsoncodec.nested_deeper_than(batch, 11) and jsoncodec.nested_deeper_than(batch, 10)


def test_a_value_json_cannot_carry_is_measured_by_its_nesting_alone() -> None:
    assert not jsoncodec.nested_deeper_than([[2**70]], 2)  # orjson cannot encode it; the walk still measures it
    assert jsoncodec.nested_deeper_than([[{1, 2}]], 1)


@pytest.mark.parametrize("limit", [4, 64, 128])
def test_one_encoding_measures_and_encodes_a_value_within_the_limit(limit: int) -> None:
    rng = random.Random(limit)
    for levels in (1, limit - 1, limit):
        value = {"a": nested(levels - 1, rng, leaf="x\u00e9\x00"), "n": [1.5, None, True]}
        assert jsoncodec.dumps_within(value, limit) == jsoncodec.dumps(value), (levels, limit)
    assert jsoncodec.dumps_within({"a": nested(limit, rng)}, limit) is None  # one level too deep
    assert jsoncodec.dumps_within({"big": 2**70}, limit) is None  # within the limit, but not JSON


def test_keys_that_are_not_strings_are_written_as_strings() -> None:
    assert jsoncodec.dumps({1: "a", "b": {2.5: None}}) == b'{"1":"a","b":{"2.5":null}}'
    assert jsoncodec.dumps({2: "x", 1: "y"}, sort_keys=True) == b'{"1":"y","2":"x"}'


def test_a_value_json_cannot_carry_is_refused_naming_why() -> None:
    with pytest.raises(jsoncodec.EncodeError, match="64-bit"):
        jsoncodec.dumps({"reading": 2 ** 70})


def test_the_depth_bound_holds_for_keys_that_are_not_strings() -> None:
    value = {1: {2: {3: "leaf"}}}
    assert (jsoncodec.nested_deeper_than(value, 2), jsoncodec.nested_deeper_than(value, 3)) == (True, False)
    assert jsoncodec.dumps_within(value, 3) == b'{"1":{"2":{"3":"leaf"}}}'
