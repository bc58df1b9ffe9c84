"""The significance of a Pearson r: two-sided p-values of the t-test against published table values."""

from __future__ import annotations

import pytest

from ingestor.energy.correlation import p_value, pearson


@pytest.mark.parametrize(("r", "n", "expected"), [
    (0.5, 10, 0.1411),  # t = 1.633, 8 degrees of freedom
    (0.3, 30, 0.1072),
    (0.9, 5, 0.0374),
    (-0.632, 10, 0.0499),  # the 5 % critical value for n = 10
    (0.0, 50, 1.0),
])
def test_p_value_of_r_matches_the_t_distribution(r: float, n: int, expected: float) -> None:
    assert p_value(r, n) == pytest.approx(expected, abs=5e-4)


def test_a_coefficient_needs_three_pairs_and_two_distinct_values_on_each_side() -> None:
    assert pearson([1.0, 2.0], [3.0, 4.0]).r is None
    assert pearson([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]).r is None
    found = pearson([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0])
    assert (found.r, found.n, found.significant) == (pytest.approx(1.0), 4, True)
