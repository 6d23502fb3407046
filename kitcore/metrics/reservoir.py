"""Reservoir: a bounded, uniform sample of a histogram's observations, and quantiles.

Keeping every observation would grow without bound; a reservoir of ``size`` values
(Vitter's algorithm R) is a uniform sample of everything observed, so quantiles stay
honest while memory stays fixed. Count and sum are kept exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Return the ``q``-quantile (0 <= q <= 1) of sorted values, interpolating linearly.

    The same definition as numpy's default ("linear"); NaN when there are no values.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q!r}")
    n = len(sorted_values)
    if n == 0:
        return math.nan
    position = q * (n - 1)
    low = math.floor(position)
    high = min(low + 1, n - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


class Reservoir:
    """A uniform sample of at most ``size`` observations, with exact count and sum.

    Not thread-safe by itself: the owner holds a lock around it.
    """

    __slots__ = ("_rng", "count", "size", "sum", "values")

    def __init__(self, size: int, rng: random.Random) -> None:
        if size < 1:
            raise ValueError(f"reservoir size must be >= 1, got {size!r}")
        self.size = size
        self.count = 0
        self.sum = 0.0
        self.values: list[float] = []
        self._rng = rng

    def add(self, value: float) -> None:
        """Record one observation, replacing a random kept one once the reservoir is full."""
        self.count += 1
        self.sum += value
        if len(self.values) < self.size:
            self.values.append(value)
            return
        slot = self._rng.randrange(self.count)
        if slot < self.size:
            self.values[slot] = value

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        """Return the quantiles of the kept observations (NaN each when empty)."""
        ordered = sorted(self.values)
        return [quantile(ordered, q) for q in qs]
