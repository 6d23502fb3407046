"""Idempotency stores: remember which message ids were handled, so duplicates are skipped.

At-least-once delivery redelivers what was not acked: after a consumer crash, the
messages it had handled but not yet acked come again. A handler keyed by message id
asks the store first: ``begin(id)`` claims the id for a lease (``"new"``), or says it was
handled (``"done"``) or is being handled elsewhere right now (``"busy"``: try later).
``commit(id)`` records success; ``abort(id)`` frees the claim of a failed attempt.

A claim is a lease, not a lock: a consumer killed mid-handler leaves a claim that
expires, and the redelivered message is then handled. What the store cannot make
atomic is the handler's own effect and ``commit``: a kill between the two repeats that
one effect. Exactly-once in effect therefore holds for every message except those in
the handler at the instant of a crash (at most the consumer's concurrency), unless the
effect and the commit share one transaction: a handler whose effect is in Redis adds
the commit to its own MULTI with ``RedisStore.commit_in(pipeline, idempotency_key())``,
and is then exactly once in effect, crashes included.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

Claim = Literal["new", "done", "busy"]
"""What ``begin`` found: a fresh claim, a handled id, or an id claimed by another."""


class IdempotencyStore(Protocol):
    """Where handled message ids are kept."""

    async def begin(self, key: str, lease: float) -> Claim:
        """Claim ``key`` for ``lease`` seconds, unless it is done or claimed."""

    async def commit(self, key: str) -> None:
        """Record ``key`` as handled."""

    async def abort(self, key: str) -> None:
        """Free the claim on ``key`` after a failed attempt."""


class MemoryStore:
    """An in-process store: for one consumer process and for tests (lost on restart)."""

    def __init__(self, ttl: float = 86400.0) -> None:
        self.ttl = ttl
        self._done: dict[str, float] = {}
        self._claims: dict[str, float] = {}

    async def begin(self, key: str, lease: float) -> Claim:
        """Claim ``key`` for ``lease`` seconds, unless it is done or claimed."""
        now = time.monotonic()
        done = self._done.get(key)
        if done is not None and done > now:
            return "done"
        claim = self._claims.get(key)
        if claim is not None and claim > now:
            return "busy"
        self._claims[key] = now + lease
        return "new"

    async def commit(self, key: str) -> None:
        """Record ``key`` as handled for ``ttl`` seconds."""
        self._claims.pop(key, None)
        self._done[key] = time.monotonic() + self.ttl
        if len(self._done) > 4096 and len(self._done) % 4096 == 0:
            now = time.monotonic()
            self._done = {k: t for k, t in self._done.items() if t > now}

    async def abort(self, key: str) -> None:
        """Free the claim on ``key``."""
        self._claims.pop(key, None)


class RedisStore:
    """A store in Redis, shared by every consumer of a queue and kept across restarts.

    ``client`` is a ``redis.asyncio.Redis`` (any client with its ``set``/``get``/``delete``
    coroutines); ids are kept under ``prefix`` for ``ttl`` seconds once done.
    """

    def __init__(self, client: Any, prefix: str = "kit:idem:", ttl: float = 86400.0) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    async def begin(self, key: str, lease: float) -> Claim:
        """Claim ``key`` for ``lease`` seconds (SET NX PX), unless it is done or claimed."""
        name = self.prefix + key
        if await self.client.set(name, b"busy", nx=True, px=max(1, int(lease * 1000))):
            return "new"
        value = await self.client.get(name)
        if value is None:  # the claim expired between the two commands
            return await self.begin(key, lease)
        return "done" if value in (b"done", "done") else "busy"

    async def commit(self, key: str) -> None:
        """Record ``key`` as handled for ``ttl`` seconds."""
        await self.client.set(self.prefix + key, b"done", ex=max(1, int(self.ttl)))

    def commit_in(self, pipeline: Any, key: str | None) -> None:
        """Add the commit of ``key`` to ``pipeline`` (a MULTI of the handler's own effect)."""
        if key is not None:
            pipeline.set(self.prefix + key, b"done", ex=max(1, int(self.ttl)))

    async def abort(self, key: str) -> None:
        """Free the claim on ``key``."""
        await self.client.delete(self.prefix + key)


def from_url(url: str | None) -> IdempotencyStore | None:
    """A store from configuration: ``memory``, ``redis://host:6379/0``, or None for none."""
    if not url:
        return None
    if url == "memory":
        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        import importlib

        redis = importlib.import_module("redis.asyncio")  # only when asked for: not a core dep
        return RedisStore(redis.Redis.from_url(url))
    raise ValueError(f"unknown idempotency store {url!r}: want memory or redis://...")
