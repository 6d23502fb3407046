"""PyrateLimiter: kit's Allower and Waiter over pyrate-limiter's token buckets.

pyrate-limiter's ``Limiter`` is not used directly: it reports neither how long a refused
call should wait (kit's ResourceExhausted carries ``retry_after``, for HTTP 429
Retry-After), and its waiting mode holds one lock across every key for the whole wait
and sleeps out the whole timeout before failing. This module drives pyrate's token
bucket (GCRA) and its stores itself: a refusal comes with its wait, a waiter that
cannot be served in time fails at once, and a waiter reserves its token before
sleeping, so concurrent waiters are served one after another in arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pyrate_limiter import Decision, Rate, TokenBucket

from kit_ratelimit.rates import token_rate
from kit_ratelimit.stores import Buckets, MemoryBuckets, RedisBuckets
from kitcore.errors import ResourceExhausted, Unavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

KeyFunc = Callable[[], object]
"""Returns the current call's bucket key (e.g. ``lambda: kitcore.context.get("caller")``)."""


class PyrateLimiter:
    """A token bucket per key: ``rate`` tokens a second, holding at most ``burst``.

    As an Allower (``allow()``, for :func:`kitcore.ratelimit.erroring_limiter`) it
    takes a token or raises ResourceExhausted with ``retry_after`` (seconds). As a
    Waiter (``wait(timeout)``, for :func:`kitcore.ratelimit.delaying_limiter`) it
    waits for a token, or raises ResourceExhausted at once when none can come within
    ``timeout``. ``rates`` (pyrate-limiter Rates, all enforced) replaces rate/burst.

    ``key`` picks the bucket from the request context (None: one bucket for all
    calls; a None key is its own bucket). ``redis`` (a URL or a ``redis.asyncio``
    client) keeps the buckets in Redis under ``{prefix}:{name}``, shared by every
    process using the same name; a Redis failure raises Unavailable, or lets the
    call through with ``fail_open``. Buckets start full.
    """

    buckets: Buckets
    """Where the token buckets live: :class:`MemoryBuckets` or :class:`RedisBuckets`."""

    allow_now: Callable[[], bool] | None
    """``allow()`` as a plain method, in memory only (None with Redis): see kitcore.ratelimit."""

    def __init__(
        self,
        rate: float | None = None,
        burst: int = 1,
        *,
        rates: Sequence[Rate] | None = None,
        key: KeyFunc | None = None,
        name: str = "default",
        redis: Redis | str | None = None,
        prefix: str = "kit:ratelimit",
        fail_open: bool = False,
        max_keys: int = 10_000,
    ) -> None:
        if rates is None:
            if rate is None:
                raise ValueError("give rate= (tokens per second) or rates= (pyrate Rates)")
            rates = [token_rate(rate, burst)]
        elif rate is not None:
            raise ValueError("give rate= or rates=, not both")
        self.name = name
        self.rates = list(rates)
        self.fail_open = fail_open
        self._key = key
        algorithm = TokenBucket()
        self._local: MemoryBuckets | None = None
        self.allow_now = None
        if redis is None:
            self.buckets = self._local = MemoryBuckets(algorithm, self.rates, max_keys)
            self.allow_now = self._allow_in_memory
        else:
            owned = isinstance(redis, str)
            if isinstance(redis, str):
                import redis.asyncio as aioredis

                redis = aioredis.from_url(redis)
            self.buckets = RedisBuckets(
                redis, f"{prefix}:{name}", algorithm, self.rates, max_keys, owned=owned
            )

    def _bucket(self) -> str:
        if self._key is None:
            return ""
        return str(self._key())

    async def take(self) -> float:
        """Take a token and return 0.0, or return the seconds until one is due (taking none)."""
        buckets = self.buckets
        try:
            if self._local is not None:  # in memory: no coroutine to create and await
                decision = self._local.check_now(self._bucket())
            else:
                decision = await buckets.check(self._bucket(), buckets.now())
        except Unavailable:
            if self.fail_open:
                return 0.0
            raise
        if decision.failing_rate is None:
            return 0.0
        return _wait(decision)

    async def allow(self) -> bool:
        """Take a token and return True, or raise ResourceExhausted with ``retry_after``."""
        if self.allow_now is not None:
            return self.allow_now()
        wait = await self.take()
        if wait:
            raise _exhausted(wait)
        return True

    def _allow_in_memory(self) -> bool:
        # take()'s work done here, without a coroutine: pyrate's check is most of the cost.
        assert self._local is not None
        key = self._key  # _bucket(), inlined: one call less on every limited request
        decision = self._local.check_now("" if key is None else str(key()))
        if decision.failing_rate is None:
            return True
        raise _exhausted(_wait(decision))

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for a token; raise ResourceExhausted at once when none comes within ``timeout``.

        The token is reserved before sleeping: cancelling the wait does not give it back.
        """
        buckets, bucket = self.buckets, self._bucket()
        start = at = buckets.now()
        budget = None if timeout is None else timeout * 1000
        try:
            while True:
                decision = await buckets.check(bucket, at)
                if decision.allowed:
                    break
                if decision.retry_after_ms is None:
                    raise _exhausted(float("inf"))
                # Ask again for the instant the bucket would admit the call: taking the
                # token at that future instant reserves it, so later callers queue behind.
                at += max(decision.retry_after_ms, 1)
                if budget is not None and at - start > budget:
                    raise _exhausted((at - buckets.now()) / 1000)
        except Unavailable:
            if self.fail_open:
                return
            raise
        delay = (at - buckets.now()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Release the buckets, and the Redis client when this limiter opened it from a URL."""
        await self.buckets.aclose()

    def __repr__(self) -> str:
        where = "redis" if isinstance(self.buckets, RedisBuckets) else "memory"
        return f"<PyrateLimiter {self.name!r} {where} rates={self.rates}>"


def _wait(refusal: Decision) -> float:
    wait = refusal.retry_after_ms
    return float("inf") if wait is None else max(wait, 1) / 1000


def _exhausted(wait: float) -> ResourceExhausted:
    if wait == float("inf"):
        return ResourceExhausted("rate limit exceeded: the limit never admits this call")
    return ResourceExhausted("rate limit exceeded", retry_after=round(max(wait, 0.001), 3))
