"""The stores' kept decoded values (store/lru.py, SizedLRU): a value is given back only for the version it was kept
with, the least recently used go first once the sizes held pass the cap, and a value larger than the cap is not
kept, nor is the key's older one."""

from __future__ import annotations

import sys
import threading

from ingestor.store.lru import SizedLRU
from tests.support.concurrently import concurrently


def filled(cap: int, *sizes: int) -> SizedLRU[int, str]:
    """A map of `cap` given keys 0, 1, ... in turn, each of version 1, valued "v<key>", of the size listed."""
    lru: SizedLRU[int, str] = SizedLRU(cap)
    for key, size in enumerate(sizes):
        lru.put(key, 1, f"v{key}", size)
    return lru


def test_a_value_is_given_back_for_an_equal_version() -> None:
    lru: SizedLRU[tuple[int, int], list[str]] = SizedLRU(100)
    lru.put((7, 20_000), b"blob", ["decoded"], 10)
    assert lru.get((7, 20_000), bytes(bytearray(b"blob"))) == ["decoded"]  # equal, not the same object


def test_a_value_is_not_given_back_for_another_version() -> None:
    lru = filled(100, 10)
    assert lru.get(0, 2) is None


def test_an_absent_key_gives_nothing() -> None:
    assert filled(100, 10).get(1, 1) is None


def test_a_value_put_again_replaces_the_keys_value_and_size() -> None:
    lru = filled(100, 10)
    lru.put(0, 2, "again", 30)
    assert (lru.get(0, 1), lru.get(0, 2), lru.held, len(lru)) == (None, "again", 30, 1)


def test_the_least_recently_put_goes_first() -> None:
    lru = filled(30, 10, 10, 10)
    lru.put(3, 1, "v3", 10)
    assert lru.kept() == [1, 2, 3]
    assert lru.get(0, 1) is None


def test_a_value_got_is_the_most_recently_used() -> None:
    lru = filled(30, 10, 10, 10)
    assert lru.get(0, 1) == "v0"
    lru.put(3, 1, "v3", 10)
    assert lru.kept() == [2, 0, 3]


def test_a_miss_leaves_the_order_as_it_was() -> None:
    lru = filled(30, 10, 10, 10)
    assert lru.get(0, 2) is None
    lru.put(3, 1, "v3", 10)
    assert lru.kept() == [1, 2, 3]


def test_as_many_go_as_the_new_value_needs_by_size() -> None:
    lru = filled(100, 40, 10, 30, 20)
    lru.put(4, 1, "v4", 55)  # 155 held: 0, 1 and 2 go (115, 105, 75)
    assert (lru.kept(), lru.held) == ([3, 4], 75)


def test_the_sizes_held_never_pass_the_cap() -> None:
    lru: SizedLRU[int, int] = SizedLRU(100)
    for key in range(50):
        lru.put(key, 1, key, key % 7 * 5 + 1)
        assert lru.held <= 100
    assert lru.held == sum(key % 7 * 5 + 1 for key in lru.kept())


def test_a_value_of_the_cap_is_kept_alone() -> None:
    lru = filled(100, 10, 20)
    lru.put(2, 1, "v2", 100)
    assert (lru.kept(), lru.held) == ([2], 100)


def test_a_value_larger_than_the_cap_is_not_kept() -> None:
    lru = filled(100, 10)
    lru.put(1, 1, "v1", 101)
    assert (lru.get(1, 1), lru.kept(), lru.held) == (None, [0], 10)


def test_a_value_larger_than_the_cap_lets_the_keys_older_value_go() -> None:
    lru = filled(100, 10, 20)
    lru.put(0, 2, "too big", 101)
    assert (lru.get(0, 1), lru.kept(), lru.held) == (None, [1], 20)


def test_cleared_nothing_is_held() -> None:
    lru = filled(100, 10, 20)
    lru.clear()
    assert (lru.get(0, 1), lru.kept(), lru.held, len(lru)) == (None, [], 0, 0)


def test_any_kept_is_any_of_the_keys_at_any_version() -> None:
    lru = filled(100, 10, 20)
    assert lru.any_kept(iter([5, 1])) and not lru.any_kept([5, 6]) and not lru.any_kept([])


def test_threads_at_once_leave_it_whole() -> None:
    """Smoke: threads putting and getting overlapping keys at once, switched as often as can be (a put cut in two
    by another would show); the sizes held are those of the values kept, within the cap, and every value got is
    of the version asked for."""
    lru: SizedLRU[int, tuple[int, int]] = SizedLRU(60)
    together = threading.Barrier(6)

    def work(seed: int) -> None:
        together.wait()
        for i in range(20_000):
            key, version = (seed * 7 + i) % 40, i % 3
            if i % 2:
                lru.put(key, version, (key, version), key % 9 + 1)
            else:
                assert lru.get(key, version) in (None, (key, version))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        errors = concurrently(work, 6)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[0]
    assert lru.held == sum(key % 9 + 1 for key in lru.kept()) <= 60
