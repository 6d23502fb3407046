"""Hedge: a backup attempt after the learnt p98, first answer wins, the loser is cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kitcore.errors import Unavailable
from kitcore.lb import Hedge, RetryBudget, RoundRobin, retry
from kitcore.sd import FixedEndpointer
from kitcore.testing.lb import Fleet


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


async def warm(hedge: Hedge, times: int = 60) -> None:
    """Calls that teach the hedge the method's latency (all instances healthy)."""
    for i in range(times):
        await (await hedge.endpoint())(i)


async def test_a_hung_first_attempt_is_hedged_to_another_instance_and_cancelled() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        hedge = Hedge(RoundRobin(fleet.endpointer), budget=RetryBudget(percent_can_retry=1))
        await warm(hedge)
        assert hedge.hedged == 0
        fleet["a:1"].hung = True
        answers = [await (await hedge.endpoint())(i) for i in range(6)]
        assert answers == ["b:2"] * 6
        # Every call that went to a:1 first was hedged (and a b:2-first call that was
        # slower than the p98 may have hedged to a:1): each a:1 attempt was cancelled.
        assert hedge.hedged >= 3
        assert fleet["a:1"].cancelled == fleet["a:1"].calls - 30
        assert fleet["a:1"].in_flight == 0


async def test_requests_not_allowed_are_never_hedged() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        hedge = Hedge(
            RoundRobin(fleet.endpointer),
            allowed=lambda request: request != "write",
            budget=RetryBudget(percent_can_retry=1),
        )
        await warm(hedge)
        fleet["a:1"].hung = True
        first = await hedge.endpoint()  # a:1 in round robin order
        task = asyncio.ensure_future(first("write"))
        await fleet.until(lambda: fleet["a:1"].in_flight > 0)
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert hedge.hedged == 0 and not task.done()
        fleet["a:1"].release()
        assert await task == "a:1"


async def test_the_budget_caps_the_extra_load() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        budget = RetryBudget(min_retries_per_second=0, percent_can_retry=0.02)
        hedge = Hedge(RoundRobin(fleet.endpointer), budget=budget)
        await warm(hedge, 100)  # 100 deposits: two hedges' worth
        fleet["a:1"].hung = True
        calls = [asyncio.ensure_future((await hedge.endpoint())(i)) for i in range(10)]
        await fleet.until(lambda: sum(t.done() for t in calls) >= 5 and hedge.hedged >= 2)
        await asyncio.sleep(0.05)
        assert hedge.hedged == 2
        fleet["a:1"].release()
        await asyncio.gather(*calls)


async def test_when_both_attempts_fail_the_first_error_is_raised() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        hedge = Hedge(RoundRobin(fleet.endpointer), budget=RetryBudget(percent_can_retry=1))
        await warm(hedge)
        fleet["a:1"].hung = True
        fleet["a:1"].failing = True
        fleet["b:2"].failing = True
        call = asyncio.ensure_future((await hedge.endpoint())("x"))
        await fleet.until(lambda: hedge.hedged > 0)
        fleet["a:1"].release()
        with pytest.raises(Unavailable, match="a:1 is down"):
            await call


async def test_cancelling_the_call_cancels_both_attempts() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        hedge = Hedge(RoundRobin(fleet.endpointer), budget=RetryBudget(percent_can_retry=1))
        await warm(hedge)
        fleet["a:1"].hung = fleet["b:2"].hung = True
        call = asyncio.ensure_future((await hedge.endpoint())("x"))
        await fleet.until(lambda: hedge.hedged > 0 and fleet["b:2"].in_flight > 0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert fleet["a:1"].cancelled == 1 and fleet["b:2"].cancelled == 1


async def test_under_retry_with_instances_leaving_and_joining_mid_flight() -> None:
    async with Fleet("a:1", "b:2", "c:3") as fleet:
        hedge = Hedge(RoundRobin(fleet.endpointer), budget=RetryBudget(percent_can_retry=1))
        await warm(hedge)
        call = retry(3, 5.0, hedge)
        fleet["a:1"].hung = True
        first = [asyncio.ensure_future(call(i)) for i in range(30)]
        await fleet.until(lambda: fleet["a:1"].in_flight > 0)
        await fleet.remove("a:1")
        await fleet.add("d:4")
        second = [asyncio.ensure_future(call(i)) for i in range(30)]
        answers = await asyncio.gather(*first, *second)
        assert "a:1" not in answers
        assert "d:4" in answers[30:]
        assert fleet["a:1"].in_flight == 0  # every hung attempt was hedged and cancelled


async def test_an_attempt_that_fails_as_the_call_is_cancelled_leaves_no_unretrieved_error() -> None:
    """The attempt's own deadline and the caller's fire together: its error is consumed."""
    attempts: list[asyncio.Task[object]] = []
    answered = 0

    async def endpoint(request: object) -> object:
        nonlocal answered
        if answered < 60:
            answered += 1
            return request
        task = asyncio.current_task()
        assert task is not None
        attempts.append(task)
        raise Unavailable("failed just as the caller gave up")

    hedge = Hedge(RoundRobin(FixedEndpointer([endpoint])))
    await warm(hedge)
    call = asyncio.ensure_future((await hedge.endpoint())("x"))
    await asyncio.sleep(0)  # the call has started its first attempt's task, not yet run
    call.cancel()  # the attempt fails in the next loop iteration, then the call is cancelled
    with pytest.raises(asyncio.CancelledError):
        await call
    assert len(attempts) == 1 and attempts[0].done()
    # asyncio would log "Task exception was never retrieved" for it when collected.
    assert not attempts[0]._log_traceback  # type: ignore[attr-defined]
