from __future__ import annotations

import asyncio
import time

import pytest

from kitcore import context
from kitcore.errors import DeadlineExceeded


async def test_values_are_scoped_and_follow_tasks() -> None:
    assert context.get("user") is None
    with context.bind(user="ana", trace="t1"):
        assert context.get("user") == "ana"

        async def child() -> object:
            return context.get("trace")

        assert await asyncio.create_task(child()) == "t1"
        with context.bind(user="bo"):
            assert context.values() == {"user": "bo", "trace": "t1"}
        assert context.get("user") == "ana"
    assert context.get("user", "none") == "none"


async def test_set_values_lasts_for_the_task() -> None:
    async def handler() -> object:
        context.set_values(request_id="r1")
        return context.get("request_id")

    assert await asyncio.create_task(handler()) == "r1"
    assert context.get("request_id") is None


async def test_timeout_never_extends_an_earlier_deadline() -> None:
    assert context.remaining() is None
    with context.timeout(1.0):
        outer = context.deadline()
        assert outer is not None
        with context.timeout(60.0):
            assert context.deadline() == outer
        with context.timeout(0.5):
            inner = context.deadline()
            assert inner is not None and inner < outer
        assert context.deadline() == outer
    assert context.deadline() is None


async def test_set_deadline_keeps_the_earlier() -> None:
    async def body() -> tuple[float | None, float | None]:
        now = time.monotonic()
        context.set_deadline(now + 5)
        first = context.deadline()
        context.set_deadline(now + 50)
        return first, context.deadline()

    first, second = await asyncio.create_task(body())
    assert first == second


async def test_enforce_raises_deadline_exceeded_when_it_passes() -> None:
    with context.timeout(0.02), pytest.raises(DeadlineExceeded):
        await context.enforce(asyncio.sleep(5))


async def test_enforce_fails_fast_on_an_expired_deadline() -> None:
    started = asyncio.Event()

    async def never() -> None:
        started.set()

    with context.timeout(-1), pytest.raises(DeadlineExceeded):
        await context.enforce(never())
    assert not started.is_set()


async def test_enforce_without_deadline_just_awaits() -> None:
    async def value() -> int:
        return 7

    assert await context.enforce(value()) == 7


async def test_deadline_middleware_bounds_the_call() -> None:
    async def slow(request: float) -> str:
        await asyncio.sleep(request)
        return "done"

    endpoint = context.deadline_middleware(0.05)(slow)
    assert await endpoint(0) == "done"
    with pytest.raises(DeadlineExceeded):
        await endpoint(5)
