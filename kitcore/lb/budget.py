"""RetryBudget: how many retries (or hedges) the recent traffic allows, as Finagle's.

A fixed ``Retry(3)`` triples the load on a service that is already failing, which is
how a partial outage becomes a full one. A budget ties retries to the traffic: every
request deposits, every retry withdraws, and a retry the budget cannot pay for fails
at once with the last error. Tokens live in a sliding window of ``ttl`` seconds, so
the budget follows the recent rate. ``percent_can_retry`` caps retries under load (20%:
at most 1.2x the load in an outage, however many attempts ``Retry`` allows), and
``min_retries_per_second`` is a floor for light traffic (a single caller still gets
its retries): a window allows the larger of the two, never their sum, so the cap holds
at any rate. (Finagle adds the two, so its outage costs 1.2x plus 10/s.) Defaults are
Finagle's figures (10 s, 10/s, 20%).

Use one budget per client (per downstream service), shared by all its callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_SCALE = 1000  # integer tokens: a deposit is 1,000, a withdrawal 1,000 / percent
_SLICES = 10


class WindowedCounter:
    """A sum over the last ``window`` seconds, kept in ``slices`` slices."""

    def __init__(
        self, window: float, slices: int = _SLICES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._slice = window / slices
        self._clock = clock
        self._slices = [0] * slices
        self._index = 0
        self._slice_end = clock() + self._slice
        self._sum = 0

    def add(self, amount: int) -> None:
        """Add ``amount`` (may be negative) now."""
        if self._clock() >= self._slice_end:
            self._advance()
        self._slices[self._index] += amount
        self._sum += amount

    def sum(self) -> int:
        """The sum of what was added in the window."""
        self._advance()
        return self._sum

    def _advance(self) -> None:
        now = self._clock()
        if now < self._slice_end:
            return
        slices = self._slices
        steps = min(int((now - self._slice_end) / self._slice) + 1, len(slices))
        for _ in range(steps):
            self._index = (self._index + 1) % len(slices)
            self._sum -= slices[self._index]
            slices[self._index] = 0
        self._slice_end = now + self._slice - (now - self._slice_end) % self._slice


class RetryBudget:
    """A token bucket over a sliding window: deposit per request, withdraw per retry."""

    def __init__(
        self,
        ttl: float = 10.0,
        min_retries_per_second: float = 10.0,
        percent_can_retry: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be > 0, got {ttl}")
        if min_retries_per_second < 0:
            raise ValueError(f"min_retries_per_second must be >= 0, got {min_retries_per_second}")
        if not 0 <= percent_can_retry <= 1000:
            raise ValueError(f"percent_can_retry must be in [0, 1000], got {percent_can_retry}")
        self.ttl = ttl
        self.min_retries_per_second = min_retries_per_second
        self.percent_can_retry = percent_can_retry
        self._deposits = WindowedCounter(ttl, clock=clock)
        self._withdrawals = WindowedCounter(ttl, clock=clock)
        # With percent 0 only the floor pays: a withdrawal then costs one floor token.
        self._withdrawal = int(_SCALE / percent_can_retry) if percent_can_retry else _SCALE
        self._deposit = _SCALE if percent_can_retry else 0
        self._floor = int(min_retries_per_second * ttl) * self._withdrawal

    def deposit(self) -> None:
        """Record one request: it earns ``percent_can_retry`` of a retry."""
        if self._deposit:
            self._deposits.add(self._deposit)

    def _tokens(self) -> int:
        return max(self._deposits.sum(), self._floor) - self._withdrawals.sum()

    def try_withdraw(self) -> bool:
        """Take one retry's worth of tokens; False (and nothing taken) when the budget is spent."""
        if self._tokens() < self._withdrawal:
            return False
        self._withdrawals.add(self._withdrawal)
        return True

    @property
    def balance(self) -> int:
        """How many retries the budget would pay for now."""
        return max(0, self._tokens() // self._withdrawal)

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ttl={self.ttl}, min_retries_per_second={self.min_retries_per_second}, "
            f"percent_can_retry={self.percent_can_retry}, balance={self.balance})"
        )
