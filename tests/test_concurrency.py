"""Server protection: the limits, the Limiter, shedding under concurrency and cancellation."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from kitcore import DeadlineExceeded, Internal, InvalidArgument, ResourceExhausted, context
from kitcore.concurrency import (
    FixedLimit,
    GradientLimit,
    Limiter,
    MinLatency,
    Overloaded,
    concurrency_limit,
    deadline_aware,
)
from kitcore.errors import from_wire, is_caller_fault


class Recording:
    """A Limit that records its samples (fixed at ``limit``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.samples: list[tuple[float, int, bool]] = []

    def sample(self, rtt: float, inflight: int, dropped: bool) -> None:
        self.samples.append((rtt, inflight, dropped))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fixed_limit_admits_up_to_the_limit() -> None:
    limiter = Limiter(FixedLimit(2))
    first, second = limiter.acquire(), limiter.acquire()
    assert first is not None and second is not None
    assert limiter.acquire() is None
    assert limiter.inflight == 2
    first.success()
    first.success()  # a second end must not free a second slot
    assert limiter.inflight == 1
    assert limiter.acquire() is not None
    assert limiter.acquire() is None


def test_fixed_limit_rejects_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="limit must be >= 1"):
        FixedLimit(0)


def test_overloaded_is_retryable_resource_exhausted_with_503() -> None:
    error = Limiter(FixedLimit(3), retry_after=0.5).overloaded()
    assert isinstance(error, Overloaded) and isinstance(error, ResourceExhausted)
    assert error.http_status == 503 and error.code == "resource_exhausted"
    assert not is_caller_fault(error)
    assert error.retry_after == 0.5 and error.details["limit"] == 3
    again = from_wire(error.to_wire())
    assert type(again) is ResourceExhausted and again.retry_after == 0.5


def test_permit_samples_latency_and_inflight_at_admission() -> None:
    clock = Clock()
    limit = Recording(10)
    limiter = Limiter(limit, clock=clock)
    a, b = limiter.acquire(), limiter.acquire()
    assert a is not None and b is not None
    clock.now += 0.25
    b.success()
    clock.now += 0.5
    a.dropped()
    c = limiter.acquire()
    assert c is not None
    c.ignore()
    assert limit.samples == [(0.25, 2, False), (0.75, 1, True)]
    assert limiter.inflight == 0


async def test_shedding_under_concurrency_never_runs_the_excess() -> None:
    limit = Recording(3)
    limiter = Limiter(limit)
    gate = asyncio.Event()
    ran = 0

    async def work(request: Any) -> Any:
        nonlocal ran
        ran += 1
        await gate.wait()
        return request

    endpoint = concurrency_limit(limiter)(work)
    tasks = [asyncio.create_task(endpoint(i)) for i in range(10)]
    await asyncio.sleep(0)
    shed = [t for t in tasks if t.done()]
    assert len(shed) == 7 and all(isinstance(t.exception(), Overloaded) for t in shed)
    assert ran == 3 and limiter.inflight == 3
    gate.set()
    results = await asyncio.gather(*(t for t in tasks if t not in shed))
    assert sorted(results) == [0, 1, 2]
    assert limiter.inflight == 0 and len(limit.samples) == 3
    assert await endpoint("again") == "again"


async def test_cancelled_calls_free_their_slot_and_are_not_samples() -> None:
    limit = Recording(2)
    limiter = Limiter(limit)
    never = asyncio.Event()

    async def work(request: Any) -> Any:
        await never.wait()

    endpoint = concurrency_limit(limiter)(work)
    tasks = [asyncio.create_task(endpoint(i)) for i in range(2)]
    await asyncio.sleep(0)
    assert limiter.inflight == 2
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert limiter.inflight == 0 and limit.samples == []


async def test_a_call_timed_out_by_its_deadline_is_a_drop() -> None:
    limit = Recording(5)
    limiter = Limiter(limit)

    async def slow(request: Any) -> Any:
        await asyncio.sleep(10)

    endpoint = concurrency_limit(limiter)(slow)
    with context.timeout(0.02), pytest.raises(DeadlineExceeded):
        await context.enforce(endpoint(None))

    async def raises_deadline(request: Any) -> Any:
        raise DeadlineExceeded("downstream deadline")

    with pytest.raises(DeadlineExceeded):
        await concurrency_limit(limiter)(raises_deadline)(None)
    assert [dropped for _, _, dropped in limit.samples] == [True, True]
    assert limiter.inflight == 0


async def test_caller_faults_are_samples_and_server_failures_are_ignored() -> None:
    limit = Recording(5)
    limiter = Limiter(limit)

    async def bad_argument(request: Any) -> Any:
        raise InvalidArgument("no")

    async def broken(request: Any) -> Any:
        raise Internal("boom")

    with pytest.raises(InvalidArgument):
        await concurrency_limit(limiter)(bad_argument)(None)
    with pytest.raises(Internal):
        await concurrency_limit(limiter)(broken)(None)
    assert [dropped for _, _, dropped in limit.samples] == [False]
    assert limiter.inflight == 0


def test_gradient_measures_min_rtt_with_the_limit_pinned_then_restores_it() -> None:
    clock = Clock()
    gradient = GradientLimit(min_rtt_requests=5, clock=clock, rng=random.Random(1))
    assert gradient.limit == 3  # Envoy starts in a minRTT window, pinned to min_concurrency
    for rtt in (0.012, 0.010, 0.011, 0.030, 0.009):
        gradient.sample(rtt, 3, False)
    assert gradient.min_rtt == 0.011  # the p50 of the window
    assert gradient.limit == 3


def test_gradient_grows_near_min_rtt_and_shrinks_when_latency_doubles() -> None:
    clock = Clock()
    gradient = GradientLimit(min_rtt_requests=1, clock=clock, rng=random.Random(1))
    gradient.sample(0.010, 3, False)  # minRTT = 10 ms
    clock.now += 0.125
    gradient.sample(0.010, 3, False)
    # gradient = 12.5 / 10 = 1.25: 3 * 1.25 = 3.75, plus sqrt(3.75) of headroom
    assert gradient.limit == int(3.75 + 3.75**0.5) == 5
    limit = 3.75 + 3.75**0.5
    for _ in range(3):
        clock.now += 0.125
        gradient.sample(0.010, 5, False)
        limit = 1.25 * limit + (1.25 * limit) ** 0.5
    assert gradient.limit == int(limit)
    clock.now += 0.125
    gradient.sample(0.025, 5, False)  # gradient 0.5: halved, plus headroom
    assert gradient.limit == int(0.5 * limit + (0.5 * limit) ** 0.5)


def test_gradient_measures_min_rtt_again_after_its_interval() -> None:
    clock = Clock()
    gradient = GradientLimit(
        min_rtt_requests=2, min_rtt_interval=30, jitter=0, clock=clock, rng=random.Random(1)
    )
    for _ in range(2):
        gradient.sample(0.010, 3, False)
    for _ in range(10):
        clock.now += 0.1
        gradient.sample(0.010, 3, False)
    grown = gradient.limit
    assert grown > 3
    clock.now += 30
    gradient.sample(0.020, grown, False)
    assert gradient.limit == 3  # pinned while minRTT is measured again
    gradient.sample(0.020, 3, False)
    assert gradient.min_rtt == 0.020 and gradient.limit == grown


@pytest.mark.parametrize("capacity", [1, 4, 16])
def test_gradient_settles_near_a_saturated_servers_capacity(capacity: int) -> None:
    # A server sharing `capacity` workers among its calls: latency grows with
    # concurrency beyond it. Demand is unbounded, so the limit is always full.
    clock = Clock()
    rng = random.Random(7)
    gradient = GradientLimit(min_rtt_interval=5, clock=clock, rng=random.Random(8))
    limits = []
    for _ in range(20_000):
        inflight = gradient.limit
        rtt = 0.010 * max(1.0, inflight / capacity) * rng.uniform(0.9, 1.1)
        clock.now += rtt / max(inflight, 1)  # one call ends every rtt / inflight seconds
        gradient.sample(rtt, inflight, False)
        limits.append(gradient.limit)
    settled = sorted(limits[2_000:])
    median = settled[len(settled) // 2]
    # Envoy's fixed point: 1.25 * capacity plus sqrt of that, floored at min_concurrency.
    expected = max(3.0, 1.25 * capacity + (1.25 * capacity) ** 0.5)
    assert capacity <= median <= expected + 3, (median, expected)
    assert settled[int(len(settled) * 0.99)] <= 2 * expected + 3


def test_min_latency_is_kept_over_two_windows() -> None:
    clock = Clock()
    floor = MinLatency(window=10, clock=clock)
    assert floor.get("m") is None
    floor.observe("m", 0.030)
    floor.observe("m", 0.020)
    floor.observe("other", 0.001)
    assert floor.get("m") == 0.020
    clock.now += 10
    floor.observe("m", 0.040)
    assert floor.get("m") == 0.020  # the last window still counts
    clock.now += 10
    assert floor.get("m") == 0.040
    clock.now += 25
    assert floor.get("m") is None  # two windows and more without a call: forgotten


async def test_deadline_aware_refuses_a_call_its_deadline_cannot_cover() -> None:
    ran = 0

    async def work(request: Any) -> Any:
        nonlocal ran
        ran += 1
        await asyncio.sleep(0.03)
        return request

    endpoint = deadline_aware(MinLatency(), "work")(work)
    with context.timeout(0.001):
        assert await endpoint(1) == 1  # no floor known yet: it runs
    assert ran == 1
    with context.timeout(0.005), pytest.raises(DeadlineExceeded, match="minimum latency"):
        await endpoint(2)
    assert ran == 1
    with context.timeout(5.0):
        assert await endpoint(3) == 3
    assert await endpoint(4) == 4  # no deadline: never refused
    assert ran == 3
