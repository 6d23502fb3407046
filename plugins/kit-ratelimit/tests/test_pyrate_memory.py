"""PyrateLimiter with buckets in memory: the conformance suites, errors, deadlines, keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kit_ratelimit import MemoryBuckets, PyrateLimiter, token_rate
from pyrate_limiter import Rate, TokenBucket

from kitcore import context
from kitcore.errors import ResourceExhausted
from kitcore.ratelimit import delaying_limiter, erroring_limiter
from kitcore.testing.limiter import check_allower, check_waiter


class Backend:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: Any) -> Any:
        self.calls += 1
        return request


async def test_passes_the_allower_suite() -> None:
    await check_allower(lambda rate, burst: PyrateLimiter(rate, burst))


async def test_passes_the_waiter_suite() -> None:
    await check_waiter(lambda rate, burst: PyrateLimiter(rate, burst))


async def test_a_refused_call_is_a_429_with_retry_after() -> None:
    backend = Backend()
    endpoint = erroring_limiter(PyrateLimiter(0.5, burst=2))(backend)
    await endpoint("a")
    await endpoint("b")
    with pytest.raises(ResourceExhausted) as refused:
        await endpoint("c")
    error = refused.value
    assert backend.calls == 2
    assert (error.http_status, error.grpc_code) == (429, 8)
    assert error.retry_after is not None and 1.9 < error.retry_after <= 2.0


async def test_take_reports_the_wait_without_taking_a_token() -> None:
    limiter = PyrateLimiter(10, burst=1)
    assert await limiter.take() == 0.0
    first = await limiter.take()
    second = await limiter.take()
    assert 0 < second <= first <= 0.1  # refusals spend nothing: the wait only shrinks


async def test_the_delaying_limiter_never_waits_past_the_deadline() -> None:
    backend = Backend()
    limiter = PyrateLimiter(2, burst=1)
    endpoint = delaying_limiter(limiter, max_delay=10)(backend)
    await endpoint("first")
    with context.timeout(0.2), pytest.raises(ResourceExhausted) as refused:
        await endpoint("the next token is 0.5s away")
    assert backend.calls == 1
    retry_after = refused.value.retry_after
    assert retry_after is not None and 0.2 < retry_after <= 0.5
    with context.timeout(1.0):
        assert await endpoint("within a deadline 1s away") == "within a deadline 1s away"
    assert backend.calls == 2


async def test_a_waiter_on_one_key_does_not_hold_up_another_key() -> None:
    limiter = PyrateLimiter(1, burst=1, key=lambda: context.get("caller"))
    with context.bind(caller="slow"):
        await limiter.wait()
        slow = asyncio.create_task(limiter.wait())  # its token is a second away
    try:
        with context.bind(caller="other"):
            await limiter.wait()
        await asyncio.sleep(0)
        assert not slow.done()
    finally:
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow


async def test_keys_from_the_request_context_get_buckets_of_their_own() -> None:
    limiter = PyrateLimiter(0.1, burst=2, key=lambda: context.get("caller"))
    endpoint = erroring_limiter(limiter)(Backend())
    with context.bind(caller="alice"):
        await endpoint(1)
        await endpoint(2)
        with pytest.raises(ResourceExhausted):
            await endpoint(3)
    with context.bind(caller="bob"):
        await endpoint(1)
        await endpoint(2)
    await endpoint("no caller")  # calls without a caller share one bucket
    with context.bind(caller="alice"), pytest.raises(ResourceExhausted):
        await endpoint(4)


async def test_every_one_of_several_rates_is_enforced() -> None:
    # Two a tenth of a second, and three a minute.
    limiter = PyrateLimiter(rates=[Rate(2, 100), Rate(3, 60_000)])
    assert [await limiter.take() == 0 for _ in range(3)] == [True, True, False]
    await asyncio.sleep(0.06)  # the short rate has a token again
    assert await limiter.take() == 0
    await asyncio.sleep(0.06)
    assert await limiter.take() > 1  # the minute rate has none for a good while


async def test_full_buckets_are_forgotten_busy_ones_are_kept() -> None:
    fast = [token_rate(1000, 1)]
    buckets = MemoryBuckets(TokenBucket(), fast, max_keys=4)
    for key in "abcd":
        assert (await buckets.check(key, buckets.now())).allowed
    await asyncio.sleep(0.01)  # every bucket has refilled
    await buckets.check("e", buckets.now())
    assert len(buckets) == 1

    slow = [token_rate(0.001, 1)]
    buckets = MemoryBuckets(TokenBucket(), slow, max_keys=4)
    for key in "abcd":
        await buckets.check(key, buckets.now())
    await buckets.check("e", buckets.now())
    assert len(buckets) == 5
    assert not (await buckets.check("a", buckets.now())).allowed


def test_token_rate_keeps_the_refill_interval() -> None:
    for rate in (0.001, 0.5, 3, 10, 1000, 1_000_000):
        r = token_rate(rate, burst=7)
        assert r.burst == 7
        assert r.interval / r.limit == pytest.approx(1000 / rate, rel=1e-3)
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="rate"):
            token_rate(bad)
    with pytest.raises(ValueError, match="burst"):
        token_rate(1, burst=0)


def test_rejects_ambiguous_options() -> None:
    with pytest.raises(ValueError, match="rate"):
        PyrateLimiter()
    with pytest.raises(ValueError, match="not both"):
        PyrateLimiter(1, rates=[Rate(1, 1000)])


async def test_allow_take_and_wait_draw_on_one_bucket() -> None:
    # allow() decides in memory without take(); all three must share the tokens.
    limiter = PyrateLimiter(0.5, burst=3)
    assert await limiter.allow() is True
    assert await limiter.take() == 0.0
    await limiter.wait(timeout=0)
    with pytest.raises(ResourceExhausted) as refused:
        await limiter.allow()
    retry_after = refused.value.retry_after
    assert retry_after is not None and 1.9 < retry_after <= 2.0
    assert 1.9 < await limiter.take() <= 2.0


async def test_allow_enforces_every_one_of_several_rates() -> None:
    limiter = PyrateLimiter(rates=[Rate(2, 100), Rate(3, 60_000)])
    assert await limiter.allow() and await limiter.allow()
    with pytest.raises(ResourceExhausted):
        await limiter.allow()
    await asyncio.sleep(0.06)  # the short rate has a token again
    assert await limiter.allow()
    await asyncio.sleep(0.06)
    with pytest.raises(ResourceExhausted) as refused:
        await limiter.allow()
    retry_after = refused.value.retry_after
    assert retry_after is not None and retry_after > 1  # the minute rate's wait


def test_memory_buckets_check_now_at_the_current_instant_by_default() -> None:
    buckets = MemoryBuckets(TokenBucket(), [token_rate(0.001, 2)])
    assert buckets.check_now("k").allowed
    assert buckets.check_now("k", buckets.now()).allowed
    refused = buckets.check_now("k")
    assert not refused.allowed
    assert refused.retry_after_ms is not None and refused.retry_after_ms > 999_000
