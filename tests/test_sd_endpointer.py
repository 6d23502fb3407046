from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kitcore import context
from kitcore.endpoint import Endpoint
from kitcore.errors import DeadlineExceeded, Unavailable
from kitcore.sd import (
    BaseInstancer,
    Closer,
    Endpointer,
    Event,
    FixedEndpointer,
    FixedInstancer,
)
from kitcore.testing.sd import MemoryBackend


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 2.0) -> None:
    """Wait until ``check()`` holds, polling the loop; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


class Recorder:
    """A logger with ``log(**kv)`` that keeps every record."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def log(self, **kv: Any) -> None:
        self.records.append(kv)

    def messages(self) -> list[str]:
        return [r["msg"] for r in self.records]


class Factory:
    """Builds endpoints answering their instance name; records builds and closes."""

    def __init__(self, fail: set[str] | None = None, async_closer: bool = False) -> None:
        self.built: list[str] = []
        self.closed: list[str] = []
        self.fail = fail or set()
        self.async_closer = async_closer

    def __call__(self, instance: str) -> tuple[Endpoint, Closer | None]:
        if instance in self.fail:
            raise ConnectionRefusedError(f"cannot reach {instance}")
        self.built.append(instance)

        async def endpoint(request: Any) -> Any:
            return instance

        if self.async_closer:

            async def aclose() -> None:
                await asyncio.sleep(0)
                self.closed.append(instance)

            return endpoint, aclose
        return endpoint, lambda: self.closed.append(instance)


async def answers(endpointer: Endpointer) -> list[str]:
    return [await e(None) for e in await endpointer.endpoints()]


async def test_endpoints_waits_for_the_first_event_and_builds_one_endpoint_per_instance() -> None:
    backend = MemoryBackend(["a:1", "b:2"])
    instancer = backend.instancer()
    factory = Factory()
    async with Endpointer(instancer, factory) as endpointer:
        assert await answers(endpointer) == ["a:1", "b:2"]
    await instancer.close()


async def test_concurrent_first_calls_share_one_subscription() -> None:
    backend = MemoryBackend(["a:1"])
    instancer = backend.instancer()
    factory = Factory()
    endpointer = Endpointer(instancer, factory)
    results = await asyncio.gather(*(endpointer.endpoints() for _ in range(5)))
    assert all(len(r) == 1 for r in results)
    assert factory.built == ["a:1"]
    await endpointer.close()
    await instancer.close()


@pytest.mark.parametrize("async_closer", [False, True], ids=["sync-closer", "async-closer"])
async def test_unchanged_endpoints_are_reused_and_removed_ones_closed(async_closer: bool) -> None:
    backend = MemoryBackend(["a:1", "b:2"])
    instancer = backend.instancer()
    factory = Factory(async_closer=async_closer)
    endpointer = Endpointer(instancer, factory)
    before = await endpointer.endpoints()

    await backend.remove("a:1")
    await backend.add("c:3")

    async def updated() -> bool:
        return await answers(endpointer) == ["b:2", "c:3"]

    await eventually(updated, "b:2 and c:3")
    after = await endpointer.endpoints()
    assert after[0] is before[1]  # b:2 kept its endpoint
    assert factory.built == ["a:1", "b:2", "c:3"]

    async def closed_a() -> bool:
        return factory.closed == ["a:1"]

    await eventually(closed_a, "a:1 closed")
    await endpointer.close()
    assert sorted(factory.closed) == ["a:1", "b:2", "c:3"]
    await instancer.close()


async def test_instances_whose_factory_fails_are_skipped_logged_and_retried_later() -> None:
    backend = MemoryBackend(["a:1", "bad:9"])
    instancer = backend.instancer()
    factory = Factory(fail={"bad:9"})
    logger = Recorder()
    endpointer = Endpointer(instancer, factory, logger=logger)
    assert await answers(endpointer) == ["a:1"]
    assert logger.records[0]["msg"] == "endpoint factory failed"
    assert logger.records[0]["instance"] == "bad:9"
    assert isinstance(logger.records[0]["err"], ConnectionRefusedError)

    factory.fail.clear()
    await backend.add("c:3")  # the next event lists bad:9 again

    async def recovered() -> bool:
        return await answers(endpointer) == ["a:1", "bad:9", "c:3"]

    await eventually(recovered, "bad:9 built on the next event")
    await endpointer.close()
    await instancer.close()


async def test_a_failing_closer_is_logged_and_the_others_still_run() -> None:
    backend = MemoryBackend(["a:1", "b:2"])
    instancer = backend.instancer()
    logger = Recorder()
    closed: list[str] = []

    def factory(instance: str) -> tuple[Endpoint, Closer | None]:
        def closer() -> None:
            if instance == "a:1":
                raise OSError("close failed")
            closed.append(instance)

        async def endpoint(request: Any) -> Any:
            return instance

        return endpoint, closer

    endpointer = Endpointer(instancer, factory, logger=logger)
    await endpointer.endpoints()
    await endpointer.close()
    assert closed == ["b:2"]
    assert [r["instance"] for r in logger.records if r["msg"] == "endpoint closer failed"] == [
        "a:1"
    ]
    await instancer.close()


async def test_discovery_errors_keep_the_last_good_endpoints() -> None:
    backend = MemoryBackend(["a:1"])
    instancer = backend.instancer()
    factory = Factory()
    logger = Recorder()
    endpointer = Endpointer(instancer, factory, logger=logger)
    before = await endpointer.endpoints()
    await backend.break_()

    async def logged() -> bool:
        return "service discovery failed" in logger.messages()

    await eventually(logged, "the discovery error logged")
    assert await endpointer.endpoints() == before
    assert factory.closed == []
    await endpointer.close()
    await instancer.close()


async def test_invalidate_on_error_drops_endpoints_once_the_error_lasts() -> None:
    backend = MemoryBackend(["a:1", "b:2"])
    instancer = backend.instancer()
    factory = Factory()
    endpointer = Endpointer(instancer, factory, invalidate_on_error=0.05)
    assert len(await endpointer.endpoints()) == 2
    await backend.break_()

    async def invalidated() -> bool:
        try:
            await endpointer.endpoints()
        except Unavailable as exc:
            assert isinstance(exc.__cause__, ConnectionError)
            return True
        return False

    await eventually(invalidated, "endpoints() to raise Unavailable")

    async def all_closed() -> bool:
        return sorted(factory.closed) == ["a:1", "b:2"]

    await eventually(all_closed, "every endpoint closed")

    await backend.restore()

    async def rebuilt() -> bool:
        try:
            return await answers(endpointer) == ["a:1", "b:2"]
        except Unavailable:
            return False

    await eventually(rebuilt, "endpoints rebuilt after recovery")
    assert factory.built == ["a:1", "b:2", "a:1", "b:2"]
    await endpointer.close()
    await instancer.close()


async def test_invalidate_on_error_zero_drops_endpoints_on_the_first_error() -> None:
    instancer = BaseInstancer()
    factory = Factory()
    endpointer = Endpointer(instancer, factory, invalidate_on_error=0)
    instancer.update(Event(["a:1"]))
    assert len(await endpointer.endpoints()) == 1
    instancer.update(Event(error=TimeoutError("backend timed out")))

    async def invalidated() -> bool:
        try:
            await endpointer.endpoints()
        except Unavailable as exc:
            return isinstance(exc.__cause__, TimeoutError)
        return False

    await eventually(invalidated, "endpoints() to raise Unavailable")
    await endpointer.close()
    assert factory.closed == ["a:1"]
    await instancer.close()


async def test_a_good_event_before_the_timeout_cancels_invalidation() -> None:
    backend = MemoryBackend(["a:1"])
    instancer = backend.instancer()
    factory = Factory()
    logger = Recorder()
    endpointer = Endpointer(instancer, factory, logger=logger, invalidate_on_error=0.05)
    before = await endpointer.endpoints()
    await backend.break_()

    async def logged() -> bool:
        return "service discovery failed" in logger.messages()

    await eventually(logged, "the discovery error logged")
    await backend.restore()
    await asyncio.sleep(0.1)  # longer than invalidate_on_error: nothing may happen
    assert await endpointer.endpoints() == before
    assert "endpoints invalidated" not in logger.messages()
    assert factory.closed == []
    await endpointer.close()
    await instancer.close()


async def test_close_closes_every_endpoint_is_idempotent_and_leaves_the_instancer() -> None:
    backend = MemoryBackend(["a:1", "b:2"])
    instancer = backend.instancer()
    factory = Factory()
    endpointer = Endpointer(instancer, factory)
    await endpointer.endpoints()
    await asyncio.gather(endpointer.close(), endpointer.close())
    await endpointer.close()
    assert sorted(factory.closed) == ["a:1", "b:2"]
    with pytest.raises(Unavailable, match="closed"):
        await endpointer.endpoints()
    assert not instancer.closed
    await instancer.close()


async def test_close_before_first_use_starts_nothing() -> None:
    endpointer = Endpointer(FixedInstancer(["a:1"]), Factory())
    await endpointer.close()
    with pytest.raises(Unavailable, match="closed"):
        await endpointer.endpoints()


async def test_an_instancer_closed_before_its_first_event_does_not_hang_callers() -> None:
    instancer = BaseInstancer()
    await instancer.close()
    endpointer = Endpointer(instancer, Factory())
    assert await endpointer.endpoints() == ()
    await endpointer.close()


class Broken:
    """An Instancer whose subscribe() raises."""

    def subscribe(self) -> AsyncIterator[Event]:
        raise RuntimeError("cannot subscribe")

    async def close(self) -> None:
        return None


async def test_an_instancer_that_cannot_subscribe_is_a_logged_discovery_error() -> None:
    logger = Recorder()
    endpointer = Endpointer(Broken(), Factory(), logger=logger, invalidate_on_error=0)
    with pytest.raises(Unavailable) as caught:
        await endpointer.endpoints()
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert logger.messages()[0] == "service discovery failed"
    await endpointer.close()


async def test_waiting_for_the_first_event_respects_the_callers_deadline() -> None:
    instancer = BaseInstancer()  # never reports anything
    endpointer = Endpointer(instancer, Factory())
    with context.timeout(0.02), pytest.raises(DeadlineExceeded):
        await endpointer.endpoints()
    await endpointer.close()
    await instancer.close()


async def test_logging_is_optional() -> None:
    instancer = FixedInstancer(["bad:1", "ok:2"])
    endpointer = Endpointer(instancer, Factory(fail={"bad:1"}))
    assert len(await endpointer.endpoints()) == 1
    await endpointer.close()
    await instancer.close()


def test_negative_invalidate_on_error_is_rejected() -> None:
    with pytest.raises(ValueError):
        Endpointer(FixedInstancer([]), Factory(), invalidate_on_error=-1)


async def test_fixed_endpointer_returns_its_endpoints() -> None:
    async def one(request: Any) -> Any:
        return 1

    async with FixedEndpointer([one]) as endpointer:
        endpoints = await endpointer.endpoints()
        assert endpoints == (one,)
        assert isinstance(endpoints, tuple)  # immutable: callers cannot change the set
