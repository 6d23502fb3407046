"""The fleet simulator's machinery: virtual time, simulated instances, and what they measure.

``kitcore.testing.virtual_time.VirtualTimeLoop`` is an asyncio event loop whose clock
is a number: when no callback is ready it jumps to the next timer instead of sleeping.
kit measures deadlines on the running loop's clock (``kitcore.context.now``), so kit's
real Retry, balancers and middlewares run on it unmodified, thousands of simulated
seconds a minute, and the same seed gives the same run.

An :class:`Instance` is one simulated server: a behaviour (latency distribution and
failure mode), optional server middleware (the concurrency limits under test), and a
client-side Endpoint that plays the network: each call starts a server task in the
caller's context (the deadline travels, as kit-http's ``Kit-Timeout`` header does), and
a caller that gives up does not stop the server, which runs on until its own copy of
the deadline passes, as a real one does.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kitcore import Endpoint, Middleware, Unavailable, context
from kitcore.testing import virtual_time


def run(main: Callable[[], Any]) -> Any:
    """Run the coroutine function ``main`` on a fresh VirtualTimeLoop."""
    return virtual_time.run(main)


# -- behaviours: what one simulated instance does with a request ---------------------------

Work = Callable[[Any], Any]
"""``async work(request)``: the instance's own handling of one request."""


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A lognormal latency draw with the given median."""
    return rng.lognormvariate(math.log(median), sigma)


def healthy(rng: random.Random, median: float = 0.010, sigma: float = 0.25) -> Work:
    """Latency lognormal around ``median``, load-independent (ample capacity)."""

    async def work(request: Any) -> Any:
        await asyncio.sleep(lognormal(rng, median, sigma))
        return request

    return work


def hiccups(
    rng: random.Random, share: float = 0.1, pause: float = 0.1, median: float = 0.010
) -> Work:
    """Healthy, but ``share`` of its calls stall for ``pause`` seconds more (GC, a lock)."""
    base = healthy(rng, median)

    async def work(request: Any) -> Any:
        if rng.random() < share:
            await asyncio.sleep(pause)
        return await base(request)

    return work


def failing(rng: random.Random, after: float = 0.001) -> Work:
    """Fails every call with Unavailable after ``after`` seconds (a dead instance)."""

    async def work(request: Any) -> Any:
        await asyncio.sleep(after)
        raise Unavailable("instance down")

    return work


def black_hole() -> Work:
    """Never answers: a stopped process or a lost network path (its socket still accepts).

    The server-side copy of the deadline ends each call (as the caller's would), so
    nothing piles up for ever.
    """

    async def work(request: Any) -> Any:
        await asyncio.get_running_loop().create_future()  # never set

    return work


class SharedCpu:
    """``workers`` shared equally by the calls in progress (processor sharing).

    Up to ``workers`` calls run at full speed; beyond that each gets ``workers / n`` of
    one, so latency grows with concurrency: an asyncio server interleaving CPU-bound
    handlers behaves so. Every call advances at the same rate, so one "work done per
    call" counter serves them all: a call ends when the counter reaches its start value
    plus its work (a heap of end values; one timer for the nearest).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, workers: int) -> None:
        self.loop = loop
        self.workers = workers
        self.live = 0
        self._done = 0.0  # work each live call has received since the counter started
        self._updated = loop.time()
        self._heap: list[list[Any]] = []
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None

    def _rate(self) -> float:
        return 1.0 if self.live <= self.workers else self.workers / self.live

    def _advance(self) -> None:
        now = self.loop.time()
        if self.live:
            self._done += (now - self._updated) * self._rate()
        self._updated = now

    async def run(self, work: float) -> None:
        """Do ``work`` seconds of CPU; cancelling stops the work (the server gave up)."""
        self._advance()
        future = self.loop.create_future()
        self._seq += 1
        entry = [self._done + work, self._seq, future]
        heapq.heappush(self._heap, entry)
        self.live += 1
        self._reschedule()
        try:
            await future
        except asyncio.CancelledError:
            if entry[2] is not None:
                self._advance()
                entry[2] = None
                self.live -= 1
                self._reschedule()
            raise

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
        if heap:
            delay = max(0.0, (heap[0][0] - self._done) / self._rate())
            self._timer = self.loop.call_later(delay, self._finish)

    def _finish(self) -> None:
        self._timer = None
        self._advance()
        heap = self._heap
        while heap and (heap[0][2] is None or heap[0][0] <= self._done + 1e-12):
            entry = heapq.heappop(heap)
            future = entry[2]
            if future is not None:
                entry[2] = None
                self.live -= 1
                if not future.done():
                    future.set_result(None)
        self._reschedule()


def overloaded(
    rng: random.Random,
    loop: asyncio.AbstractEventLoop,
    workers: int = 4,
    median: float = 0.020,
    sigma: float = 0.1,
) -> tuple[Work, float]:
    """A finite-capacity instance (SharedCpu); returns its work and capacity in calls/s."""
    cpu = SharedCpu(loop, workers)

    async def work(request: Any) -> Any:
        await cpu.run(lognormal(rng, median, sigma))
        return request

    mean = median * math.exp(sigma**2 / 2)
    return work, workers / mean


# -- instances and the network -------------------------------------------------------------


@dataclass
class Instance:
    """One simulated server: its behaviour, its server middleware, and what it received."""

    name: str
    work: Work
    middleware: Middleware | None = None
    network: float = 0.0002
    """One-way network delay, seconds."""
    attempts: int = 0
    served: int = 0
    _handler: Endpoint | None = field(default=None, repr=False)

    def handler(self) -> Endpoint:
        """The server side: middleware outside the deadline-bounded work, as kit-http runs it."""
        if self._handler is None:
            work = self.work

            async def bounded(request: Any) -> Any:
                return await context.enforce(work(request))

            self._handler = self.middleware(bounded) if self.middleware else bounded
        return self._handler

    async def _serve(self, request: Any) -> Any:
        await asyncio.sleep(self.network)
        result = await self.handler()(request)
        self.served += 1
        return result

    def endpoint(self) -> Endpoint:
        """The client's Endpoint for this instance: the network and the server task."""

        async def call(request: Any) -> Any:
            self.attempts += 1
            server = asyncio.get_running_loop().create_task(self._serve(request))
            server.add_done_callback(_retrieve)
            try:
                result = await asyncio.shield(server)
            except asyncio.CancelledError:
                raise  # the caller gave up; the server task runs on
            except Exception:
                await asyncio.sleep(self.network)  # the error reply's way back
                raise
            await asyncio.sleep(self.network)  # the reply's way back
            return result

        call.__qualname__ = f"Instance({self.name}).endpoint"
        return call


def _retrieve(task: asyncio.Task[Any]) -> None:
    # The caller may have gone: the server's outcome is still consumed, never reported.
    if not task.cancelled():
        task.exception()


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request as the caller saw it."""

    arrived: float
    latency: float
    error: str | None


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


async def open_loop(
    client: Endpoint, rate: float, duration: float, rng: random.Random
) -> list[Outcome]:
    """Send Poisson arrivals at ``rate``/s for ``duration`` s, never waiting for answers."""
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome] = []
    tasks: list[asyncio.Task[None]] = []

    async def one(n: int, sent: float) -> None:
        error: str | None = None
        try:
            await client(n)
        except Exception as exc:
            error = type(getattr(exc, "final", exc)).__name__
        outcomes.append(Outcome(sent - start, loop.time() - sent, error))

    start = loop.time()
    due = start
    n = 0
    while True:
        # Arrival times are fixed in advance: a loop running late (real time, a busy
        # machine) catches up instead of lowering the rate.
        due += rng.expovariate(rate)
        if due - start >= duration:
            break
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(loop.create_task(one(n, due)))
        n += 1
    await asyncio.gather(*tasks)
    outcomes.sort(key=lambda o: o.arrived)
    return outcomes
