"""A conformance suite for message transports (kit-nats, kit-amqp, a third party's).

``EchoService`` is the service every transport serves in its tests; ``check_typed_calls``
calls it through the transport's typed client and checks what any kit transport must
do: results of the declared types, every error kind raised again as the same class
with the same message and details, the caller's deadline reaching the server and
bounding the call on both sides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec

from kitcore import context
from kitcore.errors import ERRORS, DeadlineExceeded, KitError
from kitcore.service import method


class Pair(msgspec.Struct):
    """A result with some structure."""

    text: str
    length: int


class EchoService:
    """The service a message transport's tests serve."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()
        self.seen_remaining: list[float | None] = []
        self.started = asyncio.Event()

    async def uppercase(self, s: str) -> str:
        """Return ``s`` in upper case."""
        return s.upper()

    async def pair(self, s: str, repeat: int = 1) -> Pair:
        """Return ``s`` repeated and its length."""
        text = s * repeat
        return Pair(text, len(text))

    async def fail(
        self, code: str, message: str = "", details: dict[str, Any] | None = None
    ) -> str:
        """Raise the error kind ``code`` with ``message`` and ``details``."""
        raise ERRORS[code](message, details=details)

    async def crash(self) -> str:
        """Raise an unexpected exception (its text must not reach the caller)."""
        raise RuntimeError("secret: database password is hunter2")

    async def remaining(self) -> float:
        """Return the seconds left before the call's deadline, as the server sees it."""
        left = context.remaining()
        return -1.0 if left is None else left

    async def slow(self, seconds: float) -> str:
        """Sleep ``seconds``; records a cancellation by the deadline."""
        self.started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return "done"

    async def context_value(self, key: str) -> str:
        """Return the request-scoped value ``key`` (set by a ``before`` option)."""
        return str(context.get(key, ""))


class Orders:
    """A service with event handlers (and one request-reply method)."""

    def __init__(self) -> None:
        self.placed: list[int] = []

    @method(event="orders.placed")
    async def order_placed(self, id: int, items: list[str], note: str = "") -> None:
        """An order was placed."""
        self.placed.append(id)

    @method(event="orders.cancelled")
    async def order_cancelled(self, id: int) -> None:
        """An order was cancelled."""
        self.placed.remove(id)

    async def count(self) -> int:
        """How many orders are placed (request-reply, not an event)."""
        return len(self.placed)


async def check_typed_calls(client: Any, service: EchoService) -> None:
    """Check a typed client of ``EchoService`` through a transport; raises AssertionError."""
    assert await client.uppercase("hello") == "HELLO"
    assert await client.pair("ab", repeat=3) == Pair("ababab", 6)
    for code, cls in ERRORS.items():
        try:
            await client.fail(code, f"{code} happened", {"field": "$.s", "n": 1})
        except KitError as exc:
            assert type(exc) is cls, (code, type(exc))
            assert exc.message == f"{code} happened"
            assert exc.details.get("field") == "$.s" and exc.details.get("n") == 1, exc.details
        else:
            raise AssertionError(f"{code}: no error raised")
    try:
        await client.crash()
    except KitError as exc:
        assert exc.code == "internal" and "hunter2" not in exc.message, exc
    else:
        raise AssertionError("crash: no error raised")
    with context.timeout(5.0):
        left = await client.remaining()
    assert 0 < left <= 5.0, left  # the caller's deadline reached the server
    service.cancelled.clear()
    with context.timeout(0.3):
        try:
            await client.slow(30.0)
        except DeadlineExceeded:
            pass
        else:
            raise AssertionError("slow: no DeadlineExceeded")
    await asyncio.wait_for(service.cancelled.wait(), 10)  # the server stopped the call too


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``predicate()`` holds, looking every 20 ms; TimeoutError after ``timeout``."""

    async def poll() -> None:
        # What is awaited is a broker's doing elsewhere: there is no event to wait on.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


class CrashRun:
    """A consumer process killed mid-batch and restarted, its effects counted in Redis.

    ``spawn()`` starts the consumer process (it handles each event by ``HINCRBY key n 1``
    in Redis). ``run`` waits for ``kill_at`` events handled, SIGKILLs the process,
    starts a new one, waits for all ``total`` events and for ``settled()`` (the broker
    has nothing unacked), and returns how often each event was handled, and how many
    had been when the kill came.
    """

    def __init__(self, spawn: Callable[[], Any], redis: Any, key: str) -> None:
        self.spawn = spawn
        self.redis = redis
        self.key = key
        self.processes: list[Any] = []

    async def _handled(self) -> int:
        return int(await self.redis.hlen(self.key))

    async def _until(self, check: Callable[[], Any], timeout: float) -> None:
        async def poll() -> None:
            while not await check():
                for process in self.processes:
                    if process.poll() not in (None, -9):
                        raise RuntimeError(f"consumer exited with {process.returncode}")
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), timeout)

    async def run(
        self, total: int, kill_at: int, settled: Callable[[], Any], timeout: float = 180.0
    ) -> tuple[dict[int, int], int]:
        """Kill after ``kill_at`` handled, restart, wait for ``total``; returns the counts."""
        first = self.spawn()
        self.processes.append(first)

        async def reached() -> bool:
            return await self._handled() >= kill_at

        await self._until(reached, timeout)
        first.kill()
        first.wait()
        at_kill = await self._handled()
        self.processes.append(self.spawn())

        async def finished() -> bool:
            return await self._handled() >= total and bool(await settled())

        await self._until(finished, timeout)
        counts = {int(k): int(v) for k, v in (await self.redis.hgetall(self.key)).items()}
        return counts, at_kill

    def close(self) -> None:
        """Stop every consumer process still running."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except Exception:
                    process.kill()
                    process.wait()
