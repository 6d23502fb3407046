"""kitcore.deadlines and the scopes of context.enforce: one loop timer for every deadline."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from typing import Any

import pytest

from kitcore import context, deadlines
from kitcore.errors import DeadlineExceeded
from kitcore.lb.attempt import timed_out


def _timer_handles(loop: asyncio.AbstractEventLoop) -> int:
    return sum(1 for h in getattr(loop, "_scheduled", []) if not h.cancelled())


async def test_every_enforce_on_a_loop_shares_one_timer() -> None:
    loop = asyncio.get_running_loop()
    before = _timer_handles(loop)
    release = asyncio.Event()

    async def call(seconds: float) -> None:
        with context.timeout(seconds):
            await context.enforce(release.wait())

    tasks = [asyncio.create_task(call(5 + i / 100)) for i in range(200)]
    await asyncio.sleep(0)
    assert deadlines.for_loop(loop).pending == 200
    # asyncio.timeout would have armed 200 handles; the shared heap arms one.
    assert _timer_handles(loop) == before + 1
    release.set()
    await asyncio.gather(*tasks)
    assert deadlines.for_loop(loop).pending == 0


async def test_the_shared_timer_cancels_each_call_at_its_own_deadline() -> None:
    ended: dict[float, float] = {}

    async def call(seconds: float) -> None:
        start = context.now()
        with context.timeout(seconds), pytest.raises(DeadlineExceeded):
            await context.enforce(asyncio.sleep(30))
        ended[seconds] = context.now() - start

    await asyncio.gather(*(call(s) for s in (0.15, 0.03, 0.09)))
    assert sorted(ended, key=ended.__getitem__) == [0.03, 0.09, 0.15]
    assert all(ended[s] >= s for s in ended)


async def test_an_enforce_inside_a_scope_of_the_same_task_that_ends_sooner_arms_nothing() -> None:
    with context.timeout(10):
        sleep = asyncio.sleep(0)
        wrapped = context.enforce(sleep)
        assert wrapped is not sleep  # a scope of its own
        await wrapped
        until = context.now() + 1
        scope = context.open_scope(until)
        try:
            assert context.scope_end() == until
            inner = asyncio.sleep(0)
            assert context.enforce(inner) is inner  # the open scope already ends sooner
            await inner
        finally:
            context.close_scope(scope, False)


async def test_a_child_task_does_not_lean_on_its_parents_scope() -> None:
    # The child inherits the scope variable, but the parent's timer cancels the parent,
    # not the child: the child must arm its own.
    with context.timeout(10):
        scope = context.open_scope(context.now() + 5)
        try:

            async def child() -> bool:
                inner = asyncio.sleep(0)
                wrapped = context.enforce(inner)
                await wrapped
                return wrapped is inner

            assert await asyncio.create_task(child()) is False
        finally:
            context.close_scope(scope, False)


async def test_the_inner_scope_reports_the_deadline_of_an_outer_one_that_cut_it() -> None:
    seen: list[Any] = []

    async def transport() -> None:
        try:
            await context.enforce(asyncio.sleep(30))  # covered: no timer of its own
        except BaseException as exc:
            seen.append(type(exc))
            raise

    with context.timeout(10), pytest.raises(DeadlineExceeded):
        await context.enforce(transport(), until=context.now() + 0.02)
    assert seen == [asyncio.CancelledError]  # the outer scope turned it into the error


async def test_open_scope_refuses_an_instant_already_past() -> None:
    with pytest.raises(DeadlineExceeded):
        context.open_scope(context.now() - 0.001)
    assert deadlines.for_loop(asyncio.get_running_loop()).pending == 0


async def test_a_cancel_from_outside_stays_a_cancellation() -> None:
    async def call() -> None:
        with context.timeout(10):
            await context.enforce(asyncio.sleep(30))

    task = asyncio.create_task(call())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines.for_loop(asyncio.get_running_loop()).pending == 0


async def test_timed_out_reads_the_attempt_scope() -> None:
    verdicts: list[bool] = []

    async def tracker() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            verdicts.append(timed_out())  # what PeakEwma and OutlierEjection ask
            raise

    with context.timeout(10), pytest.raises(DeadlineExceeded):
        await context.enforce(tracker(), until=context.now() + 0.02)
    caller_gone = asyncio.create_task(tracker())
    await asyncio.sleep(0)
    caller_gone.cancel()
    await asyncio.gather(caller_gone, return_exceptions=True)
    assert verdicts == [True, False]


async def _bounded(work: Any, bound: float, stretch_to: float | None) -> Any:
    """Await ``work`` in a scope of ``bound`` seconds that a stall may push to ``stretch_to``."""
    scope = context.open_scope(context.now() + bound, stretch_to)
    cancelled = False
    try:
        return await work
    except asyncio.CancelledError:
        cancelled = True
        raise
    finally:
        context.close_scope(scope, cancelled)


async def _answer(after: float) -> str:
    await asyncio.sleep(after)
    return "answer"


async def _through_a_stall(work: Any, bound: float, stretch: float | None) -> Any:
    """Run ``_bounded(work)`` while the loop is held up for 100 ms from 5 ms on."""
    loop = asyncio.get_running_loop()
    stretch_to = None if stretch is None else context.now() + stretch
    task = asyncio.create_task(_bounded(work, bound, stretch_to))
    loop.call_later(0.005, time.sleep, 0.1)  # a blocking callback; a long collection alike
    try:
        return await task
    except DeadlineExceeded as exc:
        return exc


async def test_a_loop_stall_puts_off_a_stretchable_bound_but_not_a_plain_one() -> None:
    # The answer is due 10 ms in, the bound 50 ms in; the loop runs again only at 105
    # ms, when both are overdue. A plain bound cuts the answer that was there to read.
    assert isinstance(await _through_a_stall(_answer(0.01), 0.05, None), DeadlineExceeded)
    assert await _through_a_stall(_answer(0.01), 0.05, 10.0) == "answer"
    # Never past its limit: one the stall already overran cuts as a plain one.
    assert isinstance(await _through_a_stall(_answer(0.01), 0.05, 0.07), DeadlineExceeded)
    assert deadlines.for_loop(asyncio.get_running_loop()).pending == 0


async def test_a_stretched_bound_still_cuts_work_that_never_answers() -> None:
    start = time.monotonic()
    cut = await _through_a_stall(asyncio.sleep(30), 0.05, 10.0)
    assert isinstance(cut, DeadlineExceeded)
    assert time.monotonic() - start < 5  # once, by the stall: not out to the 10 s limit


def test_a_loop_that_is_closed_and_collected_takes_its_deadlines_with_it() -> None:
    async def one_call() -> None:
        with context.timeout(5):
            await context.enforce(asyncio.sleep(0))

    loop = asyncio.new_event_loop()
    loop.run_until_complete(one_call())
    shared = weakref.ref(deadlines.for_loop(loop))
    loop.close()
    del loop
    other = asyncio.new_event_loop()
    other.run_until_complete(one_call())  # the one-entry cache moves to the new loop
    other.close()
    gc.collect()
    assert shared() is None
