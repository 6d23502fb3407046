"""Limiter: the calls in flight counted against a Limit, and the error a refused call gets.

Netflix concurrency-limits' ``SimpleLimiter``: ``acquire()`` admits a call while fewer
than ``limit`` are in flight and returns its :class:`Permit`, or returns None at once.
The caller ends the permit with how the call went: ``success()`` (its latency is a
sample of the limit), ``dropped()`` (it timed out: the limit shrinks) or ``ignore()``
(it failed for a reason that says nothing about load). A refused call is not a sample:
the limit learns only from the calls it let in.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kitcore.concurrency.limit import Limit
from kitcore.errors import ResourceExhausted


class Overloaded(ResourceExhausted):
    """The server shed the call to protect its latency: try another instance (HTTP 503).

    On the wire it is ``resource_exhausted`` (a client raises ResourceExhausted, which
    is not the caller's fault, so Retry tries elsewhere); its HTTP status is 503, the
    status RFC 9110 gives a server that is temporarily overloaded, which proxies and
    load balancers also retry elsewhere (429 would blame this one caller's rate).
    """

    http_status = 503


class Permit:
    """One admitted call; end it exactly once with success(), dropped() or ignore()."""

    __slots__ = ("_inflight", "_limiter", "_start")

    def __init__(self, limiter: Limiter, start: float, inflight: int) -> None:
        self._limiter: Limiter | None = limiter
        self._start = start
        self._inflight = inflight

    def success(self) -> None:
        """The call finished: its latency is a sample of the limit."""
        self._end(sample=True, dropped=False)

    def dropped(self) -> None:
        """The call timed out: a sign of overload, the limit shrinks."""
        self._end(sample=True, dropped=True)

    def ignore(self) -> None:
        """The call ended in a way that says nothing of load (cancelled, failed at once)."""
        self._end(sample=False, dropped=False)

    def _end(self, sample: bool, dropped: bool) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is None:
            return  # ended already: a second end must not free a second slot
        limiter._inflight -= 1
        if sample:
            limiter.limit_algorithm.sample(limiter.clock() - self._start, self._inflight, dropped)


class Limiter:
    """Admits calls while fewer than ``limit.limit`` are in flight; use it from one loop."""

    def __init__(
        self,
        limit: Limit,
        *,
        retry_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit_algorithm = limit
        self.retry_after = retry_after
        """Seconds a refused caller is told to wait before trying this instance again."""
        self.clock = clock
        self._inflight = 0

    @property
    def inflight(self) -> int:
        """Calls admitted and not yet ended."""
        return self._inflight

    @property
    def limit(self) -> int:
        """The limit now."""
        return self.limit_algorithm.limit

    def acquire(self) -> Permit | None:
        """Admit one call and return its Permit, or return None when the limit is reached."""
        if self._inflight >= self.limit_algorithm.limit:
            return None
        self._inflight += 1
        return Permit(self, self.clock(), self._inflight)

    def overloaded(self) -> Overloaded:
        """The error a refused call gets: Overloaded, with ``retry_after`` and the limit."""
        limit = self.limit_algorithm.limit
        return Overloaded(
            f"server overloaded: {limit} calls in flight",
            details={"limit": limit},
            retry_after=self.retry_after,
        )
