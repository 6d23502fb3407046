"""kitcore.messaging.workers: concurrency without a task a message, a bound, a drain."""

from __future__ import annotations

import asyncio

import pytest

from kitcore.messaging.workers import Workers
from kitcore.testing.messaging import until


async def test_a_burst_that_never_waits_is_served_in_order_by_one_task() -> None:
    seen: list[tuple[int, asyncio.Task[object] | None]] = []

    async def serve(n: int) -> None:
        seen.append((n, asyncio.current_task()))

    workers: Workers[int] = Workers(serve, 8)
    for n in range(20):
        await workers.put(n)
    assert await workers.drain(5)
    assert [n for n, _ in seen] == list(range(20))
    # Not a task a message: the one serving, and the one due to go on if it waits.
    assert len({task for _, task in seen}) <= 2
    assert len(workers._tasks) <= 2
    await workers.close()


async def test_a_handler_that_waits_holds_up_no_other() -> None:
    release = asyncio.Event()
    done: list[int] = []

    async def serve(n: int) -> None:
        if n == 0:
            await release.wait()
        done.append(n)

    workers: Workers[int] = Workers(serve, 4)
    for n in range(3):  # fewer than concurrency: no put waits, no put wakes a worker
        await workers.put(n)
    await until(lambda: len(done) == 2, 5)
    assert done == [1, 2]  # served while the first one waits
    release.set()
    assert await workers.drain(5)
    assert done == [1, 2, 0]
    await workers.close()


async def test_at_most_concurrency_are_served_at_once_and_put_waits_past_it() -> None:
    running = 0
    most = 0
    gate = asyncio.Event()

    async def serve(n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await gate.wait()
        running -= 1

    workers: Workers[int] = Workers(serve, 3)
    for n in range(5):
        await workers.put(n)  # 3 being served, 2 queued
    await asyncio.sleep(0.01)
    assert (running, workers.pending) == (3, 5)
    blocked = asyncio.create_task(workers.put(5))  # the 3rd queued one: put waits
    await asyncio.sleep(0.01)
    assert not blocked.done()
    gate.set()
    await asyncio.wait_for(blocked, 5)
    assert await workers.drain(5)
    assert most == 3
    await workers.close()


async def test_a_put_cancelled_while_it_waits_leaves_the_others_waiting_right() -> None:
    gate = asyncio.Event()

    async def serve(n: int) -> None:
        await gate.wait()

    workers: Workers[int] = Workers(serve, 1)
    await workers.put(0)
    await asyncio.sleep(0.01)  # 0 is being served
    first = asyncio.create_task(workers.put(1))  # queued: it waits for room
    second = asyncio.create_task(workers.put(2))  # and so does this one
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    assert first.cancelled() and not second.done()
    gate.set()
    await asyncio.wait_for(second, 5)  # room was made for it, not cancelled under it
    assert await workers.drain(5)
    await workers.close()


async def test_a_failing_or_cancelled_handler_does_not_stop_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    served: list[int] = []

    async def serve(n: int) -> None:
        if n == 1:
            raise RuntimeError("boom")
        if n == 2:
            raise asyncio.CancelledError  # a stray cancellation ends that worker
        served.append(n)

    workers: Workers[int] = Workers(serve, 2)
    for n in range(5):
        await workers.put(n)
    await until(lambda: len(served) == 3, 5)
    assert served == [0, 3, 4]
    assert "serving a message failed" in caplog.text
    await workers.close()


async def test_workers_cancelled_by_a_shutdown_leave_serving_going() -> None:
    served: list[int] = []

    async def serve(n: int) -> None:
        served.append(n)

    workers: Workers[int] = Workers(serve, 2)
    await workers.put(0)  # starts a worker, due to run: cancelled before it ever does
    (fresh,) = workers._tasks
    fresh.cancel()
    await asyncio.sleep(0.01)
    assert fresh.cancelled()
    assert await workers.drain(5)  # another worker took the item
    await workers.put(1)  # and one parked is cancelled too
    assert await workers.drain(5)
    for task in list(workers._tasks):
        task.cancel()
    await asyncio.sleep(0.01)
    await workers.put(2)
    assert await workers.drain(5)
    assert served == [0, 1, 2]
    await workers.close()


async def test_drain_waits_for_what_is_served_and_times_out() -> None:
    gate = asyncio.Event()

    async def serve(n: int) -> None:
        await gate.wait()

    workers: Workers[int] = Workers(serve, 2)
    assert await workers.drain(0.01)  # nothing to wait for
    await workers.put(1)
    assert not await workers.drain(0.05)
    gate.set()
    assert await workers.drain(5)
    await workers.close()


async def test_close_cancels_what_is_served_leaks_no_task_and_can_be_used_again() -> None:
    cancelled = asyncio.Event()

    async def serve(n: int) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    workers: Workers[int] = Workers(serve, 4)
    for n in range(6):
        await workers.put(n)
    await asyncio.sleep(0.01)
    before = len(asyncio.all_tasks())
    await workers.close()
    assert cancelled.is_set()
    assert len(asyncio.all_tasks()) == before - 4
    assert workers.pending == 0
    served: list[int] = []

    async def record(n: int) -> None:
        served.append(n)

    workers._serve = record
    await workers.put(7)
    assert await workers.drain(5)
    assert served == [7]
    await workers.close()
    assert not workers._tasks


def test_concurrency_must_be_positive() -> None:
    async def serve(n: int) -> None:
        pass

    with pytest.raises(ValueError, match="concurrency"):
        Workers(serve, 0)
