"""Shared by the discovery benchmarks: marking endpoint changes and reporting latencies."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kitcore.sd import Endpointer


async def leaf(request: Any) -> Any:
    """The cheapest endpoint: the factory's work is what is measured, not the endpoint's."""
    return request


class Marks:
    """An Endpointer factory that tells when an instance's endpoint is built or closed."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[str, str], asyncio.Future[float]] = {}

    def expect(self, what: str, instance: str) -> asyncio.Future[float]:
        """A future set to the perf_counter instant ``instance`` is ``added``/``removed``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[(what, instance)] = future
        return future

    def _mark(self, what: str, instance: str) -> None:
        future = self.waiting.pop((what, instance), None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def factory(self, instance: str) -> tuple[Any, Callable[[], None]]:
        """The Endpointer factory: marks ``added`` now and ``removed`` when closed."""
        self._mark("added", instance)
        return leaf, lambda: self._mark("removed", instance)


async def until_size(endpointer: Endpointer, size: int) -> None:
    """Wait until the Endpointer hands out ``size`` endpoints."""
    # Polls the public API on purpose: it is what a balancer sees.
    while len(await endpointer.endpoints()) != size:  # noqa: ASYNC110
        await asyncio.sleep(0)


async def change_rounds(
    instancer: Any, registrar: Any, instance: str, changes: int, others: int
) -> tuple[list[float], list[float]]:
    """Seconds from ``registrar``'s register() / deregister() of ``instance`` to an
    Endpointer over ``instancer`` (already seeing ``others``) handing out the changed set,
    ``changes`` in all. Closes the registrar, the Endpointer and the instancer."""
    marks = Marks()
    endpointer = Endpointer(instancer, marks.factory)
    await until_size(endpointer, others)
    # One untimed round opens the registrar's connection: what is timed is a change.
    await timed(registrar.register, marks.expect("added", instance))
    await timed(registrar.deregister, marks.expect("removed", instance))
    registered: list[float] = []
    deregistered: list[float] = []
    for _ in range(changes // 2):
        registered.append(await timed(registrar.register, marks.expect("added", instance)))
        deregistered.append(await timed(registrar.deregister, marks.expect("removed", instance)))
    await registrar.close()
    await endpointer.close()
    await instancer.close()
    return registered, deregistered


async def idle_cost(seconds: float) -> tuple[float, float, int]:
    """CPU seconds used over ``seconds`` of idling (whole process, this loop's thread),
    after half a second to settle, and the number of threads then."""
    await asyncio.sleep(0.5)
    process, loop_thread = time.process_time(), time.thread_time()
    await asyncio.sleep(seconds)
    used = time.process_time() - process, time.thread_time() - loop_thread
    return (*used, threading.active_count())


async def timed(call: Callable[[], Awaitable[None]], mark: asyncio.Future[float]) -> float:
    """Seconds from starting ``call`` to ``mark`` being set."""
    start = time.perf_counter()
    await call()
    return await asyncio.wait_for(mark, 10) - start


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def row(label: str, values: list[float]) -> str:
    """A table row: label, count, p50, p99 and max in milliseconds."""
    return (
        f"| {label} | {len(values)} | {statistics.median(values) * 1e3:.2f} ms | "
        f"{percentile(values, 0.99) * 1e3:.2f} ms | {max(values) * 1e3:.2f} ms |"
    )
