"""The report's arithmetic: rates that are null when their denominator is 0, and the 95%
interval of a difference of two proportions (Newcombe 1998, method 10: the hybrid score
interval built from two Wilson score intervals, without continuity correction)."""

from __future__ import annotations

import math
from statistics import NormalDist

CONFIDENCE = 0.95


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when whole is 0 (a rate of nothing is unknown, not 0)."""
    return part / whole if whole else None


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval (low, high) of a proportion successes / n; raises ValueError
    when n is 0 or successes is outside [0, n]."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson: need 0 <= successes <= n and n > 0, got {successes}/{n}")
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_diff(
    k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Interval (low, high) of p1 − p2 = k1/n1 − k2/n2 by Newcombe's hybrid score method
    (the one statsmodels' ``confint_proportions_2indep(method="newcomb")`` computes);
    None when either group is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, confidence)
    l2, u2 = wilson(k2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def significant(low: float | None, high: float | None) -> bool | None:
    """Whether an interval excludes 0; None when there is no interval."""
    if low is None or high is None:
        return None
    return low > 0 or high < 0
