"""A fleet of in-process instances behind a real Instancer and Endpointer, for balancer tests.

Balancers, outlier ejection, hedging and retries are tested against the real discovery
path (a MemoryBackend's Instancer feeding an ``Endpointer``) so that instances can join
and leave while calls are in flight. Each instance answers its name, fails with
``Unavailable``, or hangs until released, as the test sets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kitcore.errors import Unavailable
from kitcore.sd import Endpointer
from kitcore.testing.sd import MemoryBackend


class Instance:
    """One instance's behaviour and what it saw: ``failing``, ``hung``, ``calls``."""

    def __init__(self, name: str, changed: Callable[[], None] = lambda: None) -> None:
        self.name = name
        self._changed = changed
        self.failing = False
        self.hung = False
        self.calls = 0
        self.in_flight = 0
        self.cancelled = 0
        self.closed = False
        self._release = asyncio.Event()

    def release(self) -> None:
        """Let every hung call answer, and stop hanging."""
        self.hung = False
        self._release.set()
        self._release = asyncio.Event()

    async def __call__(self, request: Any) -> Any:
        self.calls += 1
        self.in_flight += 1
        self._changed()
        try:
            if self.hung:
                await self._release.wait()
            if self.failing:
                raise Unavailable(f"{self.name} is down")
            return self.name
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
            self._changed()


class Fleet:
    """Instances registered in a MemoryBackend, seen through a real Endpointer."""

    def __init__(self, *names: str) -> None:
        self._change = asyncio.Event()
        self.instances = {name: Instance(name, self._changed) for name in names}
        self.backend = MemoryBackend(names)
        self.instancer = self.backend.instancer()
        self.endpointer = Endpointer(self.instancer, self._factory)

    def _factory(self, name: str) -> tuple[Any, Any]:
        instance = self.instances.setdefault(name, Instance(name, self._changed))

        async def endpoint(request: Any) -> Any:
            return await instance(request)

        def close() -> None:
            instance.closed = True

        return endpoint, close

    def _changed(self) -> None:
        self._change.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, checking it after each call starts or ends."""
        while not predicate():
            self._change.clear()
            await self._change.wait()

    def __getitem__(self, name: str) -> Instance:
        return self.instances[name]

    async def add(self, name: str) -> Instance:
        """Register a new instance and wait until the Endpointer has it."""
        instance = self.instances[name] = Instance(name, self._changed)
        await self.backend.add(name)
        await self._settle(len(self.backend.instances))
        return instance

    async def remove(self, name: str) -> None:
        """Deregister an instance and wait until the Endpointer has dropped it."""
        await self.backend.remove(name)
        await self._settle(len(self.backend.instances))

    async def _settle(self, count: int) -> None:
        # The Endpointer has no change event to wait on; its update is a few steps away.
        while len(await self.endpointer.endpoints()) != count:  # noqa: ASYNC110
            await asyncio.sleep(0)

    async def close(self) -> None:
        """Release hung calls, close the Endpointer and the Instancer."""
        for instance in self.instances.values():
            instance.release()
        await self.endpointer.close()
        await self.instancer.close()

    async def __aenter__(self) -> Fleet:
        await self.endpointer.endpoints()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
