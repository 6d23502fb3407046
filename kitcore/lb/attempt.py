"""AttemptTimeout: each attempt's own timeout, so a retry still fits in the deadline.

With one overall deadline and no per-attempt bound, an attempt that reaches a hung
instance (stopped, not dead: its socket accepts and never answers) spends the whole
deadline, and no retry ever reaches a healthy instance. Each attempt therefore gets its
own timeout, the shorter of

- its share of the remaining deadline (the time left divided by the attempts left,
  so the last attempt gets all of what remains), and
- an observed-latency bound: ``multiplier`` times the method's recent ``quantile``
  latency (never under ``floor``), once ``min_samples`` attempts have succeeded.

The same estimate says when a retry cannot fit: a retry does not start when the time
left is under the method's median latency. Latencies are kept per ``key(request)``
(the method, for a typed client), since methods differ.

The callee is still told the call's whole deadline (``Kit-Timeout``, the gRPC
deadline): only the caller's wait for this attempt is cut, and the attempt cancelled
(its connection closed), so a slow server is not told to give up earlier than the
caller would. A cut that falls while the caller's own loop is held up (a long garbage
collection, a blocking callback) is put off once by the stall's length, within the
call's deadline: that time was the caller's, not the instance's (``kitcore.deadlines``).

Instance trackers (``PeakEwma``, ``OutlierEjection``) still need to know that a
cancelled call was cut by its timeout (the instance's fault), not by its caller or a
hedge that won (nobody's): ``timed_out()`` tells them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from kitcore import context
from kitcore.lb.latency import LatencyHistogram


def timed_out() -> bool:
    """True when the current attempt's timeout or the call's deadline has passed.

    A tracker asks this when a call it wraps is cancelled: True means the instance was
    too slow; False means the caller went away or another attempt answered first.
    """
    now = context.now()
    bound = context.scope_end()  # the attempt's own, when Retry bounds it
    if bound is not None and now >= bound:
        return True
    call = context.deadline()
    return call is not None and now >= call


def _one_key(request: Any) -> Hashable:
    return None


class AttemptTimeout:
    """How long each attempt of a call may take, learnt from the attempts that succeeded."""

    def __init__(
        self,
        *,
        multiplier: float = 3.0,
        quantile: float = 0.99,
        floor: float = 0.05,
        min_samples: int = 20,
        key: Callable[[Any], Hashable] = _one_key,
        window: float = 30.0,
        clock: Callable[[], float] = context.now,
    ) -> None:
        if multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {multiplier}")
        if not 0 < quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {quantile}")
        if floor < 0:
            raise ValueError(f"floor must be >= 0, got {floor}")
        self.multiplier = multiplier
        self.quantile = quantile
        self.floor = floor
        self.min_samples = min_samples
        self._key = key
        self._window = window
        self.clock = clock
        """The clock attempts are timed on (the running loop's by default, as deadlines are)."""
        self._latencies: dict[Hashable, LatencyHistogram] = {}

    def _histogram(self, request: Any) -> LatencyHistogram:
        key = self._key(request)
        histogram = self._latencies.get(key)
        if histogram is None:
            histogram = self._latencies[key] = LatencyHistogram(self._window, self.clock)
        return histogram

    def observe(self, request: Any, seconds: float, now: float | None = None) -> None:
        """Record the duration of an attempt that succeeded (ending ``now`` on ``clock``)."""
        self._histogram(request).record(seconds, now)

    def timeout(
        self, request: Any, remaining: float, attempts_left: int, now: float | None = None
    ) -> float:
        """The timeout of the next attempt, given the deadline's ``remaining`` seconds.

        ``now``, on ``clock``, saves a look at it when the caller has just read it.
        """
        if attempts_left <= 1:
            return remaining
        share = remaining / attempts_left
        observed = self._histogram(request).estimate(self.quantile, self.min_samples, now)
        if observed is None:
            return share
        bound = self.multiplier * observed
        if bound < self.floor:
            bound = self.floor
        return share if share < bound else bound

    def can_start(self, request: Any, remaining: float) -> bool:
        """False when ``remaining`` seconds are under the method's median latency."""
        median = self._histogram(request).estimate(0.5, self.min_samples)
        return remaining > 0 if median is None else remaining >= median
