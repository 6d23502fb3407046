from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator

import pytest

from kitcore.sd import BaseInstancer, Event, Instancer, Subscription


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


async def settle() -> None:
    """Let every ready callback and task step run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def pending_next(subscription: Subscription) -> asyncio.Task[Event]:
    """Start waiting for the next event, and check that none is there yet."""
    task = asyncio.ensure_future(subscription.__anext__())
    await settle()
    assert not task.done(), f"unexpected event: {task.result() if task.done() else None}"
    return task


# Event


def test_event_sorts_and_dedups_instances() -> None:
    event = Event(["b:2", "a:1", "b:2"])
    assert event.instances == ("a:1", "b:2")
    assert event.error is None
    assert Event().instances == ()


def test_events_with_equal_instances_and_equal_errors_compare_equal() -> None:
    assert Event(["a", "b"]) == Event(("b", "a"))
    assert Event(["a"], ConnectionError("down")) == Event(["a"], ConnectionError("down"))
    assert hash(Event(["a"], OSError("x"))) == hash(Event(["a"], OSError("x")))
    assert Event(["a"], ConnectionError("down")) != Event(["a"], ConnectionError("gone"))
    assert Event(["a"], ConnectionError("down")) != Event(["a"], TimeoutError("down"))
    assert Event(["a"], ConnectionError("down")) != Event(["a"])
    assert Event(["a"]) != Event(["a", "b"])


def test_event_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Event().instances = ("x",)  # type: ignore[misc]


# BaseInstancer state and subscriptions


async def test_subscribe_before_the_first_update_waits_for_it() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    waiting = await pending_next(subscription)
    instancer.update(Event(["a:1"]))
    assert await waiting == Event(["a:1"])
    await instancer.close()


async def test_first_event_is_the_current_state_then_changes_follow() -> None:
    instancer = BaseInstancer()
    instancer.update(Event(["a:1"]))
    instancer.update(Event(["a:1", "b:2"]))
    subscription = instancer.subscribe()
    assert await subscription.__anext__() == Event(["a:1", "b:2"])
    instancer.update(Event(["b:2"]))
    assert await subscription.__anext__() == Event(["b:2"])
    assert instancer.state == Event(["b:2"])
    await instancer.close()


async def test_update_drops_an_event_equal_to_the_current_one() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    instancer.update(Event(["a"]))
    assert await subscription.__anext__() == Event(["a"])
    instancer.update(Event(["a"]))
    waiting = await pending_next(subscription)
    instancer.update(Event(["a", "b"]))
    assert await waiting == Event(["a", "b"])
    await instancer.close()


async def test_a_slow_subscriber_gets_the_latest_state_not_a_backlog() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    for n in range(100):
        instancer.update(Event([f"h:{n}"]))
    assert await subscription.__anext__() == Event(["h:99"])
    waiting = await pending_next(subscription)
    await instancer.close()
    with pytest.raises(StopAsyncIteration):
        await waiting


async def test_a_change_and_its_undoing_are_not_delivered_as_a_repeat() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    instancer.update(Event(["a"]))
    assert await subscription.__anext__() == Event(["a"])
    instancer.update(Event(["a", "b"]))
    instancer.update(Event(["a"]))  # back to what this subscriber last saw
    waiting = await pending_next(subscription)
    instancer.update(Event(["c"]))
    assert await waiting == Event(["c"])
    await instancer.close()


async def test_error_events_carry_the_last_good_set() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    instancer.update(Event(error=ConnectionError("no backend yet")))
    assert await subscription.__anext__() == Event((), ConnectionError("no backend yet"))
    instancer.update(Event(["a", "b"]))
    assert await subscription.__anext__() == Event(["a", "b"])
    failure = ConnectionError("lost")
    instancer.update(Event(["ignored"], failure))
    event = await subscription.__anext__()
    assert event.instances == ("a", "b")
    assert event.error is failure
    await instancer.close()


async def test_the_same_error_again_is_not_repeated() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    instancer.update(Event(["a"]))
    instancer.update(Event(error=ConnectionError("refused")))
    assert (await subscription.__anext__()).error is not None
    instancer.update(Event(error=ConnectionError("refused")))
    waiting = await pending_next(subscription)
    instancer.update(Event(["a"]))
    assert await waiting == Event(["a"])
    await instancer.close()


async def test_every_subscriber_gets_every_change() -> None:
    instancer = BaseInstancer()
    subscriptions = [instancer.subscribe() for _ in range(3)]
    instancer.update(Event(["a"]))
    assert [await s.__anext__() for s in subscriptions] == [Event(["a"])] * 3
    await instancer.close()


# close


async def test_close_ends_subscriptions_and_is_idempotent() -> None:
    instancer = BaseInstancer()
    instancer.update(Event(["a"]))
    subscription = instancer.subscribe()
    assert await subscription.__anext__() == Event(["a"])
    waiting = await pending_next(subscription)
    await asyncio.gather(instancer.close(), instancer.close())
    with pytest.raises(StopAsyncIteration):
        await waiting
    await instancer.close()
    assert instancer.closed
    assert [e async for e in instancer.subscribe()] == []


async def test_updates_after_close_are_dropped() -> None:
    instancer = BaseInstancer()
    instancer.update(Event(["a"]))
    await instancer.close()
    instancer.update(Event(["b"]))
    assert instancer.state == Event(["a"])


async def test_subscription_aclose_ends_only_that_subscription() -> None:
    instancer = BaseInstancer()
    closing, staying = instancer.subscribe(), instancer.subscribe()
    waiting = await pending_next(closing)
    await closing.aclose()
    with pytest.raises(StopAsyncIteration):
        await waiting
    instancer.update(Event(["a"]))
    assert await staying.__anext__() == Event(["a"])
    await instancer.close()


async def test_a_dropped_subscription_is_forgotten() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    assert subscription in instancer._subscribers
    del subscription
    gc.collect()
    assert len(instancer._subscribers) == 0
    await instancer.close()


# The watch task a backend provides


class Watching(BaseInstancer):
    """A backend whose watch reports one state, then waits until cancelled."""

    def __init__(self, fail: BaseException | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.watch_cancelled = False
        self.closed_after_watch: bool | None = None
        self.close_calls = 0

    async def _watch(self) -> None:
        if self.fail is not None:
            raise self.fail
        self.update(Event(["w:1"]))
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.watch_cancelled = True
            raise

    async def _close(self) -> None:
        self.close_calls += 1
        self.closed_after_watch = self.watch_cancelled


async def test_subscribe_starts_the_watch_and_close_stops_it_before_releasing() -> None:
    instancer = Watching()
    subscription = instancer.subscribe()
    assert await subscription.__anext__() == Event(["w:1"])
    await instancer.close()
    await instancer.close()
    assert instancer.watch_cancelled
    assert instancer.closed_after_watch is True
    assert instancer.close_calls == 1


async def test_a_crashing_watch_becomes_an_error_event() -> None:
    failure = RuntimeError("watch crashed")
    instancer = Watching(fail=failure)
    event = await instancer.subscribe().__anext__()
    assert event.error is failure
    assert event.instances == ()
    await instancer.close()


async def test_close_without_subscribers_never_starts_the_watch() -> None:
    instancer = Watching()
    await instancer.close()
    assert instancer.close_calls == 1
    assert [e async for e in instancer.subscribe()] == []


def test_subscribing_outside_the_loop_starts_the_watch_when_iterated() -> None:
    instancer = Watching()
    subscription = instancer.subscribe()

    async def main() -> Event:
        try:
            return await subscription.__anext__()
        finally:
            await instancer.close()

    assert asyncio.run(main()) == Event(["w:1"])
    assert instancer.watch_cancelled


async def test_a_thread_hands_events_over_with_call_soon_threadsafe() -> None:
    instancer = BaseInstancer()
    subscription = instancer.subscribe()
    loop = asyncio.get_running_loop()
    thread = threading.Thread(
        target=lambda: loop.call_soon_threadsafe(instancer.update, Event(["t:1"]))
    )
    thread.start()
    try:
        assert await asyncio.wait_for(subscription.__anext__(), 5) == Event(["t:1"])
    finally:
        thread.join()
        await instancer.close()


def test_base_instancer_satisfies_the_instancer_protocol() -> None:
    assert isinstance(BaseInstancer(), Instancer)
