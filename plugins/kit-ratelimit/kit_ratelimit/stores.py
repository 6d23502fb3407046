"""Where token buckets live: in this process, or in Redis for several processes.

Both keep pyrate-limiter's token bucket state per key (a caller, or one key for
everyone), in a dict here or a Redis hash there, and answer one question atomically
with pyrate's algorithm: may one more call go at instant ``at`` (ms)? The answer is
pyrate's Decision, which carries the wait when the answer is no.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from pyrate_limiter import Decision, Rate, RedisStateStore, StateAlgorithm

from kitcore.errors import Unavailable

RESERVATION_HORIZON_MS = 3_600_000
"""How long an idle Redis bucket is kept at least: longer waits may lose their place."""


class Buckets(Protocol):
    """The token buckets of one limiter, by key."""

    def now(self) -> int:
        """Return the current instant in milliseconds on this store's clock."""
        ...

    async def check(self, key: str, at: int) -> Decision:
        """Take one token from ``key``'s bucket at instant ``at`` if it has one."""
        ...

    async def aclose(self) -> None:
        """Release what the store holds."""
        ...


class MemoryBuckets:
    """Buckets in this process on the monotonic clock; idle ones are forgotten.

    Each key's state is pyrate's own (its algorithm's ``initial`` and ``step``), kept
    in one dict under one lock: pyrate's InMemoryStateStore would add an object and a
    reentrant lock per key to every decision. A bucket that has refilled completely is
    the same as a new one, so once there are more than ``max_keys`` buckets the full
    ones are dropped; busy buckets are never dropped, so the limit holds however many
    callers there are.
    """

    def __init__(
        self, algorithm: StateAlgorithm, rates: Sequence[Rate], max_keys: int = 10_000
    ) -> None:
        self._algorithm = algorithm
        self._step = algorithm.step
        self._rates = list(rates)
        self._initial = algorithm.initial(self._rates)
        self._max_keys = max_keys
        self._sweep_at = max_keys
        self._states: dict[str, Any] = {}
        lock = threading.Lock()
        self._acquire, self._release = lock.acquire, lock.release

    def now(self) -> int:
        """Return the monotonic clock in milliseconds."""
        return time.monotonic_ns() // 1_000_000

    async def check(self, key: str, at: int) -> Decision:
        """Take one token from ``key``'s bucket at instant ``at`` if it has one."""
        return self.check_now(key, at)

    def check_now(self, key: str, at: int | None = None) -> Decision:
        """The same as ``check`` (``at`` now by default), without a coroutine: nothing waits."""
        if at is None:
            at = time.monotonic_ns() // 1_000_000  # self.now(), without a method call
        states = self._states
        self._acquire()
        try:
            state = states.get(key)
            if state is None:
                if len(states) >= self._sweep_at:
                    self._sweep()
                state = self._initial
            state, decision = self._step(self._rates, state, at, 1)
            states[key] = state
        finally:
            self._release()
        return decision

    def __len__(self) -> int:
        return len(self._states)

    def _sweep(self) -> None:
        now = self.now()
        consumed, rates = self._algorithm.consumed, self._rates
        full = [key for key, state in self._states.items() if consumed(rates, state, now) == 0]
        for key in full:
            del self._states[key]
        # Sweep again only after as many new keys again: O(1) amortized per key.
        self._sweep_at = max(self._max_keys, 2 * len(self._states))

    async def aclose(self) -> None:
        """Forget every bucket."""
        self._states.clear()


class RedisBuckets:
    """Buckets in Redis shared by every process using the same ``prefix``, on the wall clock.

    Each key is one small Redis hash updated by a Lua script (pyrate's
    RedisStateStore), so concurrent processes never take the same token; idle keys
    expire by themselves. ``client`` is a ``redis.asyncio`` client: no call blocks the
    event loop. A Redis error raises Unavailable.
    """

    def __init__(
        self,
        client: Any,
        prefix: str,
        algorithm: StateAlgorithm,
        rates: Sequence[Rate],
        max_keys: int = 10_000,
        *,
        owned: bool = False,
    ) -> None:
        import redis

        if isinstance(client, redis.Redis):
            raise TypeError("RedisBuckets needs a redis.asyncio client, not a blocking redis.Redis")
        self.client = client
        self.prefix = prefix
        self._algorithm = algorithm
        self._rates = list(rates)
        self._max_keys = max_keys
        self._owned = owned
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._stores: dict[str, Any] = {}
        # pyrate keeps a key until its bucket would be full again; waiters' reservations
        # push that further out, so keep keys at least RESERVATION_HORIZON_MS.
        self._ttl_ms = max(
            RESERVATION_HORIZON_MS,
            *(math.ceil(2 * rate.burst * rate.interval / rate.limit) for rate in self._rates),
        )

    def now(self) -> int:
        """Return the wall clock in milliseconds: the instant every process agrees on."""
        return time.time_ns() // 1_000_000

    async def check(self, key: str, at: int) -> Decision:
        """Take one token from ``key``'s bucket at instant ``at`` if it has one."""
        store = self._stores.get(key)
        if store is None:
            if len(self._stores) >= self._max_keys:
                self._stores.clear()  # they only cache script handles; state stays in Redis
            redis_key = f"{self.prefix}:{key}" if key else self.prefix
            store = self._stores[key] = RedisStateStore(self.client, redis_key, ttl_ms=self._ttl_ms)
        try:
            decision: Decision = await store.check(self._algorithm, self._rates, at, 1)
        except self._errors as exc:
            raise Unavailable(f"rate limiter store unavailable: {exc}") from exc
        return decision

    async def aclose(self) -> None:
        """Close the client when this store opened it from a URL."""
        self._stores.clear()
        if self._owned:
            await self.client.aclose()
