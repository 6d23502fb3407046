"""LatencyHistogram: a streaming estimate of recent latency quantiles, cheap to feed.

Per-attempt timeouts and hedged requests both ask "how long does a call to this method
take, at the p-th percentile, lately?". Keeping every sample is too costly and a single
running average hides the tail, so this keeps counts in log-spaced buckets (each 10%
wider than the last, so a quantile is within 5% of the truth) over a sliding window of
two halves: the older half is dropped as time moves on, so the estimate follows a fleet
whose latency changes. A quantile is recomputed at most every few dozen samples, which
keeps ``quantile()`` O(1) on the hot path. As Finagle's windowed percentile histogram.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

_LOWEST = 1e-6  # 1 us: below this every sample lands in the first bucket
_GROWTH = 1.1
_LOG_GROWTH = math.log(_GROWTH)
_BUCKETS = int(math.log(1000.0 / _LOWEST) / _LOG_GROWTH) + 2  # up to 1,000 s
_REFRESH = 32  # samples between recomputations of the cached quantiles


def _bucket(seconds: float) -> int:
    if seconds <= _LOWEST:
        return 0
    return min(int(math.log(seconds / _LOWEST) / _LOG_GROWTH) + 1, _BUCKETS - 1)


def _upper(bucket: int) -> float:
    return _LOWEST * _GROWTH**bucket


class LatencyHistogram:
    """Recent latencies in seconds (about the last ``window`` seconds) and their quantiles."""

    def __init__(self, window: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        if window <= 0:
            raise ValueError(f"window must be > 0, got {window}")
        self._half = window / 2
        self._clock = clock
        self._current = [0] * _BUCKETS
        self._previous = [0] * _BUCKETS
        self._current_count = 0
        self._previous_count = 0
        self._rotate_at = clock() + self._half
        self._since_refresh = 0
        self._cache: dict[float, float] = {}

    @property
    def count(self) -> int:
        """The number of samples in the window."""
        self._maybe_rotate()
        return self._current_count + self._previous_count

    def record(self, seconds: float, now: float | None = None) -> None:
        """Add one latency sample (taken ``now``, on the histogram's clock)."""
        if (self._clock() if now is None else now) >= self._rotate_at:
            self._maybe_rotate()
        if seconds <= _LOWEST:
            bucket = 0
        else:  # _bucket(), inline: every call that succeeds records one
            bucket = min(int(math.log(seconds / _LOWEST) / _LOG_GROWTH) + 1, _BUCKETS - 1)
        self._current[bucket] += 1
        self._current_count += 1
        self._since_refresh += 1
        if self._since_refresh >= _REFRESH:
            self._since_refresh = 0
            self._cache.clear()

    def estimate(self, q: float, min_samples: int, now: float | None = None) -> float | None:
        """The ``q`` quantile once the window holds ``min_samples`` samples, else None.

        ``count`` and ``quantile`` in one look at the clock (none when given ``now``):
        per-attempt timeouts ask this on every call.
        """
        if (self._clock() if now is None else now) >= self._rotate_at:
            self._maybe_rotate()
        if self._current_count + self._previous_count < max(min_samples, 1):
            return None
        cached = self._cache.get(q)
        return cached if cached is not None else self._quantile(q)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q <= 1) of the window's samples; None when it holds none."""
        self._maybe_rotate()
        cached = self._cache.get(q)
        return cached if cached is not None else self._quantile(q)

    def _quantile(self, q: float) -> float | None:
        total = self._current_count + self._previous_count
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        current, previous = self._current, self._previous
        for bucket in range(_BUCKETS):
            seen += current[bucket] + previous[bucket]
            if seen >= rank:
                value = self._cache[q] = _upper(bucket)
                return value
        raise AssertionError("unreachable: the counts sum to total")

    def _maybe_rotate(self) -> None:
        now = self._clock()
        if now < self._rotate_at:
            return
        if now >= self._rotate_at + self._half:
            # A whole window went by without a sample: everything is stale.
            self._previous = [0] * _BUCKETS
            self._previous_count = 0
        else:
            self._previous = self._current
            self._previous_count = self._current_count
        self._current = [0] * _BUCKETS
        self._current_count = 0
        self._rotate_at = now + self._half
        self._cache.clear()
