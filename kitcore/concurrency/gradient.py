"""GradientLimit: an adaptive concurrency limit, Envoy's adaptive concurrency gradient controller.

Envoy's ``envoy.filters.http.adaptive_concurrency`` (its "gradient controller") keeps
the calls in flight where latency stays near the latency with no queue:

- **minRTT**: now and then (every ``min_rtt_interval`` seconds, jittered) the limit is
  pinned to ``min_concurrency`` until ``min_rtt_requests`` calls have finished; the
  ``percentile`` of their latencies is the minRTT, the latency of an unloaded server.
- **sampleRTT**: every ``update_interval`` seconds the ``percentile`` of the latencies of
  the calls that finished in that window.
- **the new limit**: ``gradient = clamp((minRTT + buffer * minRTT) / sampleRTT, 0.5, 2)``,
  ``limit = gradient * limit``, plus a burst headroom of ``sqrt(limit)``, kept within
  ``[min_concurrency, max_limit]``. When the limit sits at ``min_concurrency`` for five
  windows in a row, minRTT is measured again at once (it was probably stale).

A server whose latency grows with its concurrency settles near ``1.25 x`` the
concurrency it serves at full speed plus the headroom: throughput at capacity, latency
about ``1.25 x`` the no-load latency. Pinning the concurrency to measure minRTT is what
sets it apart from Netflix's Vegas and Gradient2, which infer the no-load latency from
loaded samples and drift upward under sustained saturation (kit's tests showed Vegas
settling at 36 calls in flight for a one-worker server). The defaults are Envoy's
(``percentile`` 50, ``buffer`` 25 %, ``min_concurrency`` 3, ``min_rtt_requests`` 50,
jitter 10 %, ``max_limit`` 1000); ``update_interval`` (Envoy requires it; 100 ms in its
examples) and ``min_rtt_interval`` (60 s in its examples) are set from those examples.
Windows roll when a sample arrives rather than on a timer: an idle server keeps its
state, as Envoy's skips empty windows.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

_MIN_WINDOWS_BEFORE_REMEASURE = 5


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


class GradientLimit:
    """Envoy's gradient controller as a :class:`~kitcore.concurrency.Limit`."""

    def __init__(
        self,
        *,
        update_interval: float = 0.1,
        min_rtt_interval: float = 60.0,
        min_rtt_requests: int = 50,
        min_concurrency: int = 3,
        buffer: float = 0.25,
        percentile: float = 50.0,
        jitter: float = 0.1,
        max_limit: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if update_interval <= 0 or min_rtt_interval <= 0:
            raise ValueError("update_interval and min_rtt_interval must be > 0")
        if not 1 <= min_concurrency <= max_limit or min_rtt_requests < 1:
            raise ValueError("need 1 <= min_concurrency <= max_limit and min_rtt_requests >= 1")
        if not 0 < percentile <= 100 or buffer < 0 or not 0 <= jitter < 1:
            raise ValueError("need 0 < percentile <= 100, buffer >= 0, 0 <= jitter < 1")
        self._update_interval = update_interval
        self._min_rtt_interval = min_rtt_interval
        self._min_rtt_requests = min_rtt_requests
        self._min_concurrency = min_concurrency
        self._buffer = buffer
        self._percentile = percentile
        self._jitter = jitter
        self._max_limit = max_limit
        self._clock = clock
        self._rng = rng or random.Random()
        self._limit = float(min_concurrency)
        self._deferred = float(min_concurrency)  # the limit to restore after a minRTT window
        self._samples: list[float] = []
        self._measuring = False
        self._at_min = 0
        self.min_rtt = 0.0
        """The latency of the unloaded server in seconds (0 until first measured)."""
        self.sample_rtt = 0.0
        """The latency of the last sample window in seconds."""
        self._window_start = self._next_min_rtt = clock()
        self._enter_min_rtt_window()

    @property
    def limit(self) -> int:
        """The calls that may be in flight now."""
        return int(self._limit)

    def sample(self, rtt: float, inflight: int, dropped: bool) -> None:
        """Record one finished call's latency; roll a window when it is due."""
        now = self._clock()
        if not self._measuring and now >= self._next_min_rtt:
            self._enter_min_rtt_window()
        self._samples.append(rtt)
        if self._measuring:
            if len(self._samples) >= self._min_rtt_requests:
                self._end_min_rtt_window(now)
        elif now - self._window_start >= self._update_interval:
            self._end_sample_window(now)

    def _enter_min_rtt_window(self) -> None:
        if not self._measuring:
            self._deferred = max(self._limit, float(self._min_concurrency))
        self._measuring = True
        self._limit = float(self._min_concurrency)
        self._samples = []

    def _end_min_rtt_window(self, now: float) -> None:
        self.min_rtt = _percentile(self._samples, self._percentile)
        self._measuring = False
        self._limit = self._deferred
        self._samples = []
        self._window_start = now
        spread = self._min_rtt_interval * self._jitter
        self._next_min_rtt = now + self._min_rtt_interval + self._rng.uniform(0, spread)

    def _end_sample_window(self, now: float) -> None:
        self.sample_rtt = _percentile(self._samples, self._percentile)
        self._samples = []
        self._window_start = now
        self._limit = self._new_limit()
        if self._limit <= self._min_concurrency:
            self._at_min += 1
            if self._at_min >= _MIN_WINDOWS_BEFORE_REMEASURE:
                self._at_min = 0
                self._enter_min_rtt_window()
        else:
            self._at_min = 0

    def _new_limit(self) -> float:
        target = self.min_rtt * (1 + self._buffer)
        gradient = max(0.5, min(2.0, target / self.sample_rtt)) if self.sample_rtt > 0 else 2.0
        limit = gradient * self._limit
        limit += math.sqrt(limit)
        return max(float(self._min_concurrency), min(float(self._max_limit), limit))

    def __repr__(self) -> str:
        return f"GradientLimit(limit={self.limit}, min_rtt={self.min_rtt:.6f})"
