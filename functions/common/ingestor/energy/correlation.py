"""Pearson correlation with its sample size and significance: a coefficient is never given without both.

Significance is the two-sided test of r = 0: t = r·√((n−2)/(1−r²)) with n−2 degrees of freedom, whose
p-value is the regularized incomplete beta I_{df/(df+t²)}(df/2, ½) (Numerical Recipes §6.4; the standard
library has no t distribution and the query function does not carry SciPy for one number).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

ALPHA = 0.05
MIN_PAIRS = 3  # below this r is undefined or always ±1


@dataclass(frozen=True)
class Correlation:
    r: float | None
    n: int
    p_value: float | None
    significant: bool


def pearson(xs: list[float], ys: list[float]) -> Correlation:
    n = len(xs)
    if n != len(ys):
        raise ValueError("pairs of unequal length")
    if n < MIN_PAIRS or len(set(xs)) < 2 or len(set(ys)) < 2:
        return Correlation(None, n, None, False)
    r = max(-1.0, min(1.0, statistics.correlation(xs, ys)))
    p = p_value(r, n)
    return Correlation(r, n, p, p < ALPHA)


def p_value(r: float, n: int) -> float:
    df = n - 2
    if abs(r) >= 1.0:
        return 0.0
    t2 = r * r * df / (1.0 - r * r)
    return _betai(df / 2.0, 0.5, df / (df + t2))


def _betai(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h
