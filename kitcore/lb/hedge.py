"""Hedge: a Balancer whose endpoints send a backup attempt when the first is slow.

One instance with occasional hiccups (a GC pause, a noisy neighbour) sets everyone's
tail latency. As Finagle's BackupRequestFilter and gRPC's hedging policy, when the
first attempt has not answered after the method's recent ``1 - extra_load`` quantile
latency (p98 for 2%), a second attempt goes to another instance; the first answer
wins and the other attempt is cancelled. By construction about ``extra_load`` of the
calls are hedged, and a ``RetryBudget`` holding ``extra_load`` of the traffic (no
reserve) caps it when latency shifts faster than the estimate follows.

Only requests ``allowed(request)`` says are safe to send twice are hedged (for a
typed client: methods marked ``@method(idempotent=True)``); the others go straight
through. Latency is learnt per ``key(request)`` (the method), from first attempts
only; a cancelled first attempt counts with the time it had run, a lower bound that is
already in the tail. A hedged call costs an asyncio task per attempt, a few
microseconds; calls before ``min_samples`` are learnt from and not hedged, and no backup goes
out before ``min_delay`` (1 ms: below it the event loop's own latency would hedge
healthy calls).

Compose it between the balancer and ``Retry``: a hedged pair is one attempt, bounded
by the attempt timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable
from typing import Any

from kitcore.endpoint import Endpoint
from kitcore.lb.balancer import Balancer, choices
from kitcore.lb.budget import RetryBudget
from kitcore.lb.latency import LatencyHistogram
from kitcore.lb.wrappers import Wrappers

_MAX_WRAPPERS = 1024


def _always(request: Any) -> bool:
    return True


def _one_key(request: Any) -> Hashable:
    return None


class Hedge:
    """A Balancer wrapping ``balancer``: each endpoint it returns may hedge its call."""

    def __init__(
        self,
        balancer: Balancer,
        *,
        extra_load: float = 0.02,
        allowed: Callable[[Any], bool] = _always,
        key: Callable[[Any], Hashable] = _one_key,
        budget: RetryBudget | None = None,
        min_samples: int = 50,
        min_delay: float = 0.001,
        window: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < extra_load < 1:
            raise ValueError(f"extra_load must be in (0, 1), got {extra_load}")
        self.extra_load = extra_load
        self.quantile = 1.0 - extra_load
        self.min_samples = min_samples
        self.min_delay = min_delay
        self._balancer = balancer
        self._allowed = allowed
        self._key = key
        self._budget = budget or RetryBudget(
            ttl=window / 3, min_retries_per_second=0, percent_can_retry=extra_load, clock=clock
        )
        self._window = window
        self._clock = clock
        self._latencies: dict[Hashable, LatencyHistogram] = {}
        self._hedging: Wrappers[_Hedging] = Wrappers(self._wrap)
        self.hedged = 0
        """Backup attempts sent so far."""

    @property
    def choices(self) -> int:
        """How many endpoints the wrapped balancer's last pick chose from."""
        return choices(self._balancer)

    async def endpoint(self) -> Endpoint:
        """An endpoint of the wrapped balancer that hedges the calls it may.

        The same wrapper each time for the same endpoint, so that callers (``Retry``)
        can tell instances apart.
        """
        primary = await self._balancer.endpoint()
        if len(self._hedging) > _MAX_WRAPPERS:
            # The balancer's endpoints are not listed here to prune by: start afresh.
            self._hedging = Wrappers(self._wrap)
        return self._hedging.get(primary)

    def _wrap(self, endpoint: Endpoint) -> _Hedging:
        return _Hedging(endpoint, self)

    def _histogram(self, request: Any) -> LatencyHistogram:
        key = self._key(request)
        histogram = self._latencies.get(key)
        if histogram is None:
            histogram = self._latencies[key] = LatencyHistogram(self._window, self._clock)
        return histogram

    async def _call(self, primary: Endpoint, request: Any) -> Any:
        self._budget.deposit()
        latencies = self._histogram(request)
        start = self._clock()
        delay = latencies.quantile(self.quantile) if latencies.count >= self.min_samples else None
        if delay is None:  # still learning
            result = await primary(request)
            latencies.record(self._clock() - start)
            return result
        first = asyncio.ensure_future(primary(request))
        tasks: set[asyncio.Future[Any]] = {first}
        try:
            done, _ = await asyncio.wait(tasks, timeout=max(delay, self.min_delay))
            if not done and self._budget.try_withdraw():
                backup = await self._other(primary)
                if backup is not None:
                    self.hedged += 1
                    tasks.add(asyncio.ensure_future(backup(request)))
            return await _first_success(first, tasks)
        finally:
            latencies.record(self._clock() - start)
            pending = [t for t in tasks if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*pending, return_exceptions=True)
            for task in tasks:
                # An attempt that failed as the call was cancelled (its own deadline and
                # the caller's fire together) was never awaited: consume its error, or
                # asyncio reports it as never retrieved.
                if task.done() and not task.cancelled():
                    task.exception()

    async def _other(self, primary: Endpoint) -> Endpoint | None:
        """Another endpoint than ``primary``; None when the balancer offers no other."""
        for _ in range(3):
            try:
                candidate = await self._balancer.endpoint()
            except Exception:
                return None
            if candidate is not primary:
                return candidate
        return None


class _Hedging:
    """The endpoint Hedge returns for one of its balancer's endpoints."""

    __slots__ = ("_hedge", "endpoint")

    def __init__(self, endpoint: Endpoint, hedge: Hedge) -> None:
        self.endpoint = endpoint
        self._hedge = hedge

    async def __call__(self, request: Any) -> Any:
        if not self._hedge._allowed(request):
            return await self.endpoint(request)
        return await self._hedge._call(self.endpoint, request)


async def _first_success(first: asyncio.Future[Any], tasks: set[asyncio.Future[Any]]) -> Any:
    """The first result among ``tasks``; when all fail, the first attempt's error."""
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is None:
                return task.result()
    return first.result()
