from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kitcore import context
from kitcore.errors import DeadlineExceeded, ResourceExhausted
from kitcore.ratelimit import TokenBucket, delaying_limiter, erroring_limiter
from kitcore.testing.limiter import check_allower, check_waiter


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def echo(request: Any) -> Any:
    return request


async def test_token_bucket_passes_the_allower_suite() -> None:
    await check_allower(lambda rate, burst: TokenBucket(rate, burst))


async def test_token_bucket_passes_the_waiter_suite() -> None:
    await check_waiter(lambda rate, burst: TokenBucket(rate, burst))


async def test_allow_with_a_fake_clock() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [await bucket.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token
    assert [await bucket.allow() for _ in range(2)] == [True, False]
    clock.now += 100  # refills up to burst only
    assert [await bucket.allow() for _ in range(4)] == [True, True, True, False]


async def test_wait_that_would_take_too_long_fails_at_once_and_takes_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    await bucket.wait(timeout=0)
    with pytest.raises(ResourceExhausted) as raised:
        await bucket.wait(timeout=0.5)
    assert raised.value.retry_after == 1.0
    clock.now += 1
    assert await bucket.allow()


async def test_a_cancelled_wait_hands_its_token_back() -> None:
    bucket = TokenBucket(rate=5, burst=1)
    assert await bucket.allow()
    waiting = asyncio.create_task(bucket.wait(None))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # Had the cancelled waiter kept its reservation, this would need 0.4 s, not 0.2 s.
    await bucket.wait(timeout=0.3)


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)


async def test_erroring_limiter_lets_an_allower_raise_its_own_error() -> None:
    class Quota:
        async def allow(self) -> bool:
            raise ResourceExhausted("quota for user ana", retry_after=30)

    with pytest.raises(ResourceExhausted) as raised:
        await erroring_limiter(Quota())(echo)("x")
    assert raised.value.message == "quota for user ana" and raised.value.retry_after == 30


async def test_erroring_limiter_message() -> None:
    limited = erroring_limiter(TokenBucket(rate=0.1, burst=1))(echo)
    assert await limited("first") == "first"
    with pytest.raises(ResourceExhausted, match="rate limit exceeded"):
        await limited("second")


async def test_erroring_limiter_decides_without_a_coroutine_when_the_allower_can() -> None:
    class InMemory:
        def __init__(self) -> None:
            self.left = 2

        def allow_now(self) -> bool:
            self.left -= 1
            return self.left >= 0

        async def allow(self) -> bool:
            raise AssertionError("allow_now() is there: the coroutine must not be used")

    limited = erroring_limiter(InMemory())(echo)
    assert [await limited("a"), await limited("b")] == ["a", "b"]
    with pytest.raises(ResourceExhausted, match="rate limit exceeded"):
        await limited("c")


class Recorder:
    """A Waiter that records the timeout it is given and never waits."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    async def wait(self, timeout: float | None) -> None:
        self.timeouts.append(timeout)


async def test_delaying_limiter_bounds_the_wait_by_max_delay_and_deadline() -> None:
    waiter = Recorder()
    await delaying_limiter(waiter)(echo)("no bounds")
    await delaying_limiter(waiter, max_delay=0.5)(echo)("max_delay only")
    with context.timeout(5):
        await delaying_limiter(waiter)(echo)("deadline only")
        await delaying_limiter(waiter, max_delay=0.5)(echo)("max_delay first")
    with context.timeout(0.2):
        await delaying_limiter(waiter, max_delay=0.5)(echo)("deadline first")
    none, max_only, deadline_only, max_first, deadline_first = waiter.timeouts
    assert none is None and max_only == 0.5 and max_first == 0.5
    assert deadline_only is not None and 4 < deadline_only <= 5
    assert deadline_first is not None and 0 < deadline_first <= 0.2


async def test_delaying_limiter_fails_at_once_when_the_deadline_has_passed() -> None:
    waiter = Recorder()
    reached: list[Any] = []

    async def endpoint(request: Any) -> Any:
        reached.append(request)
        return request

    with context.timeout(0), pytest.raises(DeadlineExceeded):
        await delaying_limiter(waiter, max_delay=1)(endpoint)("late")
    assert waiter.timeouts == [] and reached == []


async def test_delaying_limiter_with_a_deadline_shorter_than_the_wait() -> None:
    bucket = TokenBucket(rate=1, burst=1)
    limited = delaying_limiter(bucket)(echo)
    assert await limited("first") == "first"
    with context.timeout(0.05), pytest.raises(ResourceExhausted):
        await limited("second needs 1 s")


class Generous:
    async def allow(self) -> bool:
        return True

    async def wait(self, timeout: float | None) -> None:
        return None


async def test_the_suites_reject_a_limiter_that_never_limits() -> None:
    with pytest.raises(AssertionError, match="expected ResourceExhausted"):
        await check_allower(lambda rate, burst: Generous())
    with pytest.raises(AssertionError, match="expected ResourceExhausted"):
        await check_waiter(lambda rate, burst: Generous())
