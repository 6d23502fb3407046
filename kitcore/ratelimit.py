"""Rate limiting: refuse or delay calls beyond a rate, as Go kit's ratelimit package.

An :class:`Allower` answers at once whether a call may go (``erroring_limiter`` refuses
the others with ResourceExhausted); a :class:`Waiter` makes the call wait for its turn
(``delaying_limiter`` waits no longer than ``max_delay`` and the request's deadline).
Backends come from plugins (kit-ratelimit over pyrate-limiter, with Redis for limits
shared by several instances); :class:`TokenBucket` is a small in-memory one of both kinds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from kitcore import context
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import DeadlineExceeded, ResourceExhausted


class Allower(Protocol):
    """Decides at once whether one more call is allowed now (may read kitcore.context).

    One that never waits to decide (in memory) may also offer ``allow_now()``, a plain
    method doing what ``allow()`` does: :func:`erroring_limiter` then calls it without
    creating a coroutine per call (Go kit's Allower is synchronous, too).
    """

    async def allow(self) -> bool:
        """Take a token and return True, or return False (or raise ResourceExhausted)."""
        ...


class Waiter(Protocol):
    """Waits until one more call is allowed."""

    async def wait(self, timeout: float | None) -> None:
        """Wait for a token; raise ResourceExhausted when none comes within ``timeout`` s."""
        ...


def erroring_limiter(allower: Allower) -> Middleware:
    """Return a Middleware raising ResourceExhausted for calls ``allower`` refuses."""
    allow_now: Callable[[], bool] | None = getattr(allower, "allow_now", None)

    def middleware(next_: Endpoint) -> Endpoint:
        if allow_now is not None:

            async def decided_now(request: Any) -> Any:
                if not allow_now():
                    raise ResourceExhausted("rate limit exceeded")
                return await next_(request)

            return decided_now

        async def endpoint(request: Any) -> Any:
            if not await allower.allow():
                raise ResourceExhausted("rate limit exceeded")
            return await next_(request)

        return endpoint

    return middleware


def delaying_limiter(waiter: Waiter, max_delay: float | None = None) -> Middleware:
    """Return a Middleware making each call wait for ``waiter`` before going on.

    The wait is bounded by ``max_delay`` and by the time left before the request's
    deadline (None when neither is set); a call whose deadline has already passed raises
    DeadlineExceeded without waiting.
    """

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            left = context.remaining()
            if left is not None and left <= 0:
                raise DeadlineExceeded("deadline exceeded")
            if left is None:
                timeout = max_delay
            elif max_delay is None:
                timeout = left
            else:
                timeout = min(max_delay, left)
            await waiter.wait(timeout)
            return await next_(request)

        return endpoint

    return middleware


class TokenBucket:
    """An in-memory token bucket: ``rate`` tokens per second, holding at most ``burst``.

    It starts full. ``allow()`` takes a token when one is there; ``wait()`` reserves the
    next token and sleeps until it is due, so waiters are served in arrival order. Use it
    from one event loop.
    """

    def __init__(
        self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        return self._tokens

    def allow_now(self) -> bool:
        """Take a token and return True when one is available now, else return False."""
        if self._refill() >= 1:
            self._tokens -= 1
            return True
        return False

    async def allow(self) -> bool:
        """The same as :meth:`allow_now`, as the Allower protocol's coroutine."""
        return self.allow_now()

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for a token; raise ResourceExhausted at once when it would take over ``timeout``."""
        delay = (1 - self._refill()) / self.rate
        if delay > 0 and timeout is not None and delay > timeout:
            raise ResourceExhausted("rate limit exceeded", retry_after=round(delay, 3))
        self._tokens -= 1  # reserved now, so later waiters queue behind this one
        if delay <= 0:
            return
        try:
            await asyncio.sleep(delay)
        except BaseException:
            self._refill()
            self._tokens = min(self.burst, self._tokens + 1)  # hand the reservation back
            raise
