from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kitcore import context
from kitcore.errors import DeadlineExceeded
from kitcore.lb import AttemptTimeout, Retry, RoundRobin
from kitcore.lb.attempt import timed_out
from kitcore.sd import FixedEndpointer
from kitcore.testing import virtual_time


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


# -- the clock: deadlines are measured on the running loop's clock --------------------------


def test_now_reads_the_running_loops_clock_and_monotonic_outside_one() -> None:
    async def main() -> tuple[float, float]:
        await asyncio.sleep(2.5)
        return context.now(), asyncio.get_running_loop().time()

    seen, loop_time = virtual_time.run(main, start=1000.0)
    assert seen == loop_time == 1002.5
    before = time.monotonic()
    assert before <= context.now() <= time.monotonic()


def test_a_deadline_shrinks_with_the_loops_clock() -> None:
    async def main() -> tuple[float | None, float, float]:
        loop = asyncio.get_running_loop()
        with context.timeout(5.0):
            await asyncio.sleep(2.0)
            left = context.remaining()
            with pytest.raises(DeadlineExceeded):
                await context.enforce(asyncio.sleep(3600))
            deadline = context.deadline()
            assert deadline is not None
            return left, loop.time(), deadline

    left, ended, deadline = virtual_time.run(main, start=50.0)
    assert left == pytest.approx(3.0)
    assert ended == pytest.approx(55.0) and deadline == pytest.approx(55.0)


def test_set_deadline_takes_an_instant_on_the_loops_clock() -> None:
    async def main() -> list[str]:
        ran: list[str] = []

        async def work(name: str) -> None:
            ran.append(name)

        context.set_deadline(asyncio.get_running_loop().time() + 1.0)
        await asyncio.sleep(0.5)
        await context.enforce(work("in time"))
        await asyncio.sleep(1.0)
        with pytest.raises(DeadlineExceeded):
            await context.enforce(work("too late"))
        return ran

    assert virtual_time.run(main) == ["in time"]


def test_attempt_timeouts_and_their_verdict_run_on_the_loops_clock() -> None:
    """A hung instance's attempt is cut at its share, judged timed out, and the retry lands."""
    verdicts: list[bool] = []

    async def hung(request: Any) -> Any:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            verdicts.append(timed_out())  # what PeakEwma and OutlierEjection ask
            raise

    async def live(request: Any) -> Any:
        await asyncio.sleep(0.2)
        return request

    async def main() -> tuple[Any, float, float]:
        loop = asyncio.get_running_loop()
        policy = AttemptTimeout(min_samples=5)
        endpoint = Retry(3, 3.0, RoundRobin(FixedEndpointer([hung, live])), attempt_timeout=policy)
        start = loop.time()
        answer = await endpoint("x")
        took = loop.time() - start
        # Five calls answered in 0.2 s each (virtual): the learnt bound is 3 x 0.2 s.
        for _ in range(5):
            await Retry(3, 3.0, RoundRobin(FixedEndpointer([live])), attempt_timeout=policy)(1)
        return answer, took, policy.timeout("x", remaining=3.0, attempts_left=3)

    answer, took, bound = virtual_time.run(main)
    assert answer == "x"
    assert took == pytest.approx(1.0 + 0.2)  # the first attempt's share of 3 s, then the live one
    assert verdicts == [True]
    assert bound == pytest.approx(0.6, rel=0.1)


def test_with_one_instance_an_attempt_gets_the_whole_deadline() -> None:
    """Cut at its share, a slow attempt could only be retried at the same instance."""
    calls: list[str] = []

    def instance(name: str, seconds: float) -> Any:
        async def endpoint(request: Any) -> Any:
            calls.append(name)
            await asyncio.sleep(seconds)
            return name

        return endpoint

    async def main() -> tuple[Any, float, Any]:
        loop = asyncio.get_running_loop()
        # Overloaded: 1.5 s to answer, more than a third of the 3 s deadline.
        busy = RoundRobin(FixedEndpointer([instance("busy", 1.5)]))
        start = loop.time()
        alone = await Retry(3, 3.0, busy, attempt_timeout=AttemptTimeout())("x")
        took = loop.time() - start
        # With another instance to go to, the share still applies.
        two = RoundRobin(FixedEndpointer([instance("slow", 1.5), instance("other", 0.1)]))
        shared = await Retry(3, 3.0, two, attempt_timeout=AttemptTimeout())("x")
        return alone, took, shared

    alone, took, shared = virtual_time.run(main)
    assert (alone, took) == ("busy", pytest.approx(1.5))
    assert shared == "other"
    assert calls == ["busy", "slow", "other"]  # the busy one was asked once, not three times
