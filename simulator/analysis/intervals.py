"""Confidence intervals for a mean over a few runs (seeds).

A sweep runs each combination of values with a handful of seeds; the mean of
a measure over them is an estimate, and with so few samples its interval
comes from Student's t distribution, not the normal one.  The t quantile is
found by bisection on the t distribution's exact CDF for whole degrees of
freedom (Abramowitz & Stegun, *Handbook of Mathematical Functions*, 26.7.3
and 26.7.4: a finite sum of powers of cos(theta)), so no SciPy is needed.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def _central(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with ``df`` degrees of freedom (A&S 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:  # odd: 2/pi (theta + sin cos (1 + 2/3 c^2 + 2*4/(3*5) c^4 + ...))
        total, term = 0.0, math.cos(theta)
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + math.sin(theta) * total) if df > 1 else 2 * theta / math.pi
    total, term = 0.0, 1.0  # even: sin (1 + 1/2 c^2 + 1*3/(2*4) c^4 + ...)
    for k in range(1, df // 2 + 1):
        total += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return math.sin(theta) * total


def t_quantile(level: float, df: int) -> float:
    """The ``t`` with ``P(|T| <= t) = level`` (two-sided), for ``df`` >= 1 degrees
    of freedom; above 10,000 the normal quantile (they differ by about 1e-4)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    z = NormalDist().inv_cdf((1 + level) / 2)
    if df > 10_000:
        return z
    low, high = z, z
    while _central(high, df) < level:
        high *= 2
    for _ in range(100):  # bisection to the float's precision
        middle = (low + high) / 2
        if _central(middle, df) < level:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return (low + high) / 2


def mean_interval(values, level: float = 0.95) -> tuple[float, float, int]:
    """The mean of ``values`` (NaN ignored), the half-width of its ``level``
    confidence interval (Student's t; NaN with fewer than two values), and how
    many values there were."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, n
    return mean, t_quantile(level, n - 1) * float(values.std(ddof=1)) / math.sqrt(n), n
