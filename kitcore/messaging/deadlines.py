"""Server-side deadlines for message transports: one timer for every call in flight.

A request message carries its caller's budget (``Kit-Timeout``: milliseconds left when
it was sent) and, when the sender has one, the instant it ends (``Kit-Deadline``: Unix
time in milliseconds). The budget alone restarts the clock at receipt; the instant also
counts the time the message sat in a broker's queue or in the subscriber's buffer, so
a request its caller gave up on is refused unserved: ``DeadlineExceeded``, the handler
never runs. The instant is wall-clock time: it assumes the hosts' clocks agree
(NTP) to well within the budgets in use; ``ServerOptions(wall_clock=False)`` ignores it.

``Deadlines`` enforces the deadlines of the calls a ``Dispatcher`` runs. A timer per
call (``asyncio.timeout``, ``wait_for``) costs a timer handle, and for ``wait_for`` a
task, per message; here one heap of (instant, call) and one loop timer, armed at the
earliest instant, serve them all. When it fires, every call past its instant is
cancelled in its own task and answers ``DeadlineExceeded``; a call that ends first is
only marked finished (the heap drops such entries when they surface or when they
outnumber the live ones).
"""

from __future__ import annotations

import asyncio
import heapq
import sys
import time
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from kitcore import context
from kitcore.errors import DeadlineExceeded, InvalidArgument

T = TypeVar("T")

TIMEOUT_HEADER = "Kit-Timeout"
"""Request header with the caller's remaining time in whole milliseconds."""
DEADLINE_HEADER = "Kit-Deadline"
"""Request header with the caller's deadline as Unix time in whole milliseconds."""
MAX_DIGITS = 15
"""A header value of more digits is refused, not parsed (``Kit-Timeout`` over 31,000 years)."""


def _millis(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    # Plain ASCII digits only: int() would also take "+5", "1_000", " 7 " and "²" fails it.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_DIGITS:
        raise InvalidArgument(
            f"bad {name} header: want whole milliseconds, at most {MAX_DIGITS} digits",
            details={"header": name},
        )
    return int(raw)


def deadline_of(
    headers: Mapping[str, str] | None, cap: float | None, wall_clock: bool = True
) -> float | None:
    """The request's deadline as an instant on ``kitcore.context.now()``'s clock (None: unbounded).

    The earliest of: receipt + ``Kit-Timeout``, ``Kit-Deadline`` (when ``wall_clock``)
    and receipt + ``cap`` seconds. A malformed header raises InvalidArgument.
    """
    now = context.now()
    instant = None if cap is None else now + cap
    if not headers:
        return instant
    timeout = _millis(headers, TIMEOUT_HEADER)
    if timeout is not None:
        by_budget = now + timeout / 1000
        instant = by_budget if instant is None else min(instant, by_budget)
    if wall_clock:
        deadline = _millis(headers, DEADLINE_HEADER)
        if deadline is not None:
            by_clock = now + (deadline / 1000 - time.time())
            instant = by_clock if instant is None else min(instant, by_clock)
    return instant


def deadline_headers(left: float) -> dict[str, str]:
    """The headers telling a server that ``left`` seconds remain from now (``left`` > 0)."""
    return {
        TIMEOUT_HEADER: str(max(1, int(left * 1000))),
        DEADLINE_HEADER: str(int((time.time() + left) * 1000)),
    }


class _Call:
    __slots__ = ("expired", "instant", "task", "task_of")

    def __init__(self, instant: float, task: asyncio.Task[Any]) -> None:
        self.instant = instant
        self.task: asyncio.Task[Any] | None = task  # None once finished
        self.task_of = task
        self.expired = False

    def __lt__(self, other: _Call) -> bool:
        return self.instant < other.instant


class Deadlines:
    """Runs calls within their deadlines, cancelling those past it, on one loop timer."""

    def __init__(self) -> None:
        self._heap: list[_Call] = []
        self._live = 0
        self._timer: asyncio.TimerHandle | None = None
        self._armed = float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        """How many calls with a deadline are running."""
        return self._live

    async def run(self, awaitable: Awaitable[T], instant: float) -> T:
        """Await ``awaitable`` in this task until ``instant`` (monotonic); then DeadlineExceeded.

        An instant already past raises DeadlineExceeded at once, ``awaitable`` unstarted.
        """
        if instant <= context.now():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise DeadlineExceeded("deadline exceeded before the call started")
        call = self.enter(instant)
        cancelled = False
        try:
            return await awaitable
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            self.exit(call, cancelled)

    def enter(self, instant: float) -> _Call | None:
        """Bound the current task by ``instant``; pass the result to ``exit`` afterwards.

        ``run``'s two halves, for a caller that saves the coroutine frame: ``exit`` goes
        in a ``finally``, told whether a CancelledError is on its way out.
        """
        task = asyncio.current_task()
        return None if task is None else self._add(instant, task)

    def exit(self, call: _Call | None, cancelled: bool = False) -> None:
        """End ``enter``'s bound; on a cancellation that was the deadline's, DeadlineExceeded."""
        if call is None:
            return
        self._finish(call)
        if call.expired:
            call.expired = False
            task = call.task_of
            # Withdraw the deadline's cancel; another one (a server stopping) still stands.
            if _uncancel(task) == 0 and cancelled:
                raise DeadlineExceeded("deadline exceeded") from None

    def _add(self, instant: float, task: asyncio.Task[Any]) -> _Call:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A dispatcher reused on another loop: the old one's timer is of no use here.
            self._reset(loop)
        call = _Call(instant, task)
        heapq.heappush(self._heap, call)
        self._live += 1
        if instant < self._armed:
            self._arm(instant)
        return call

    def _finish(self, call: _Call) -> None:
        if call.task is None:
            return
        call.task = None
        self._live -= 1
        heap = self._heap
        if not self._live:
            # Nothing runs: drop the finished entries. The timer stays armed; it finds
            # nothing to do when it fires, and is not re-armed for each call meanwhile.
            heap.clear()
        elif len(heap) > 2 * self._live + 256:
            # Finished calls outnumber the running ones: drop them all at once, O(n)
            # spread over the calls that finished since the last time.
            self._heap = [c for c in heap if c.task is not None]
            heapq.heapify(self._heap)

    def _arm(self, instant: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = self._loop
        assert loop is not None
        # The loop's clock need not be context.now() (uvloop's is not): go by delay.
        self._timer = loop.call_later(max(0.0, instant - context.now()), self._fire)
        self._armed = instant

    def _fire(self) -> None:
        self._timer, self._armed = None, float("inf")
        heap = self._heap
        now = context.now()
        while heap and (heap[0].task is None or heap[0].instant <= now):
            call = heapq.heappop(heap)
            task = call.task
            if task is not None and not task.done():
                call.expired = True
                task.cancel()
        if heap:
            self._arm(heap[0].instant)

    def _reset(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._armed, self._loop = None, float("inf"), loop
        self._heap = [c for c in self._heap if c.task is not None]
        heapq.heapify(self._heap)
        if self._heap:
            self._arm(self._heap[0].instant)

    def close(self) -> None:
        """Release the timer if no call is running (a stopped server's last step)."""
        if not self._live and self._timer is not None:
            self._timer.cancel()
            self._timer, self._armed = None, float("inf")


def _uncancel(task: asyncio.Task[Any]) -> int:
    """Withdraw the deadline's cancellation of ``task``; the cancellations still pending."""
    if sys.version_info >= (3, 11):
        return task.uncancel()
    return 0  # no count to keep before 3.11: the deadline's is taken as the only one
