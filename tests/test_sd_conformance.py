from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kitcore.sd import Event, FixedInstancer
from kitcore.testing.sd import (
    MemoryBackend,
    MemoryInstancer,
    MemoryRegistrar,
    check_instancer,
    check_registrar,
)


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


class Unbreakable:
    """A driver without break_/restore: the suite skips the error checks."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend

    async def add(self, instance: str) -> None:
        await self.backend.add(instance)

    async def remove(self, instance: str) -> None:
        await self.backend.remove(instance)


class Sloppy:
    """An Instancer built from scratch on an async generator, with optional contract bugs."""

    def __init__(
        self, backend: MemoryBackend, *, repeats: bool = False, forgets: bool = False
    ) -> None:
        self.backend = backend
        self.repeats = repeats
        self.forgets = forgets
        self.stop = asyncio.Event()

    def subscribe(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        last: Event | None = None
        while not self.stop.is_set():
            change = self.backend.next_change()
            if self.backend.broken:
                kept = () if self.forgets else (last.instances if last else ())
                event = Event(kept, ConnectionError("broken"))
            else:
                event = Event(self.backend.instances)
            if event != last:
                yield event
                if self.repeats:
                    yield event
            last = event
            waits = {
                asyncio.ensure_future(change.wait()),
                asyncio.ensure_future(self.stop.wait()),
            }
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def close(self) -> None:
        self.stop.set()


async def test_memory_instancer_passes_the_instancer_suite() -> None:
    backend = MemoryBackend()
    await check_instancer(backend.instancer, backend, timeout=2.0)
    assert backend.instances == set()


async def test_the_suite_runs_without_break_support_and_with_async_factories() -> None:
    backend = MemoryBackend()

    async def make() -> MemoryInstancer:
        return MemoryInstancer(backend)

    await check_instancer(make, Unbreakable(backend), timeout=2.0, instances=["x:1", "y:2", "z:3"])


async def test_a_generator_based_instancer_can_pass_the_suite() -> None:
    backend = MemoryBackend()
    await check_instancer(lambda: Sloppy(backend), backend, timeout=2.0)


async def test_the_suite_catches_repeated_events() -> None:
    backend = MemoryBackend()
    with pytest.raises(AssertionError, match="event repeated"):
        await check_instancer(lambda: Sloppy(backend, repeats=True), backend, timeout=0.5)


async def test_the_suite_catches_error_events_that_drop_the_last_good_set() -> None:
    backend = MemoryBackend()
    with pytest.raises(AssertionError, match="keep the last good set"):
        await check_instancer(lambda: Sloppy(backend, forgets=True), backend, timeout=0.5)


async def test_the_suite_catches_an_instancer_that_does_not_change() -> None:
    backend = MemoryBackend()
    with pytest.raises(AssertionError, match=r"first subscriber: no event with .*after add"):
        await check_instancer(lambda: FixedInstancer([]), backend, timeout=0.1)


async def test_memory_registrar_passes_the_registrar_suite() -> None:
    backend = MemoryBackend()
    await check_registrar(backend.registrar, backend.snapshot, timeout=2.0)
    assert backend.instances == set()


class Sticky(MemoryRegistrar):
    """A registrar whose deregistration does not take."""

    async def _deregister(self) -> None:
        return None


async def test_the_registrar_suite_catches_a_deregister_that_does_nothing() -> None:
    backend = MemoryBackend()
    with pytest.raises(AssertionError, match="not gone after deregister"):
        await check_registrar(
            lambda instance: Sticky(backend, instance), backend.snapshot, timeout=0.1
        )
