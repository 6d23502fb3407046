"""Deadlines: one loop timer for every deadline in force, instead of a timer per call.

Every call a client sends and every request a server runs is bounded by its deadline,
often twice (a retry's attempt and the call). ``asyncio.timeout`` arms a loop timer per
scope, and on uvloop each is a libuv timer, allocated, started, stopped and freed: a
few microseconds a scope, more with real I/O in the loop, which measured as a tenth of
a small call's cost. Here one heap of (instant, task) entries and one loop timer, armed
at the earliest instant, serve them all. When it fires, every task past its instant is
cancelled; the scope that set that instant turns the cancellation into
``DeadlineExceeded``. A scope that ends first only marks its entry finished: the heap
drops such entries when they surface, or all at once when they outnumber the live ones.

A bound may be given room to stretch (``stretch_to``): a retry's attempt, bounded by
the instance's observed latency, is not the instance's fault when the caller's own loop
was held up past it (a full collection of a big heap, a blocking callback): the answer
may be in the socket, unread, or the request not yet sent. When the timer runs late by
``STALL`` or more, such a bound is pushed back once by that lateness, never past its
``stretch_to`` (the call's deadline, which is never stretched).

``for_loop()`` gives the running loop's ``Deadlines`` (``kitcore.context.enforce`` uses
it); a component may keep its own, as a message ``Dispatcher`` does to count its calls.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import sys
import weakref
from collections.abc import Awaitable
from typing import Any, TypeAlias, TypeVar

from kitcore.errors import DeadlineExceeded

T = TypeVar("T")


Entry: TypeAlias = "list[Any]"
"""One scope's bound in the heap: ``[instant, sequence, task, stretch_to]``; the task
becomes None when the scope ends, or ``EXPIRED`` when its instant passed first;
``stretch_to`` is None, or how far a stalled loop may push the instant (once). A list,
not an object: one is made per scope, and lists compare in C (by instant, then
sequence)."""

STALL = 0.010
"""Seconds late the timer must run for bounds to be stretched: a loop held up that long
was stalled, not busy (a loaded loop runs its timers within a millisecond or two)."""


class _Expired:
    def __repr__(self) -> str:
        return "EXPIRED"


EXPIRED: Any = _Expired()
"""What an expired entry holds in place of its task."""


class Deadlines:
    """Bounds tasks by instants on their loop's clock, cancelling those past it, on one timer."""

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._sequence = itertools.count()
        self._live = 0
        # Weakly too: the loop holds its scheduled handle, and the handle holds the loop.
        self._timer: weakref.ref[asyncio.TimerHandle] | None = None
        self._armed = float("inf")
        # Weakly: the per-loop registry maps each loop to its Deadlines, and a strong
        # reference back would keep every loop alive.
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    @property
    def pending(self) -> int:
        """How many bounded scopes are open."""
        return self._live

    async def run(self, awaitable: Awaitable[T], instant: float) -> T:
        """Await ``awaitable`` in this task until ``instant`` (loop time); then DeadlineExceeded.

        An instant already past raises DeadlineExceeded at once, ``awaitable`` unstarted.
        """
        if instant <= asyncio.get_running_loop().time():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise DeadlineExceeded("deadline exceeded before the call started")
        task = asyncio.current_task()
        entry = None if task is None else self.enter(instant, task)
        cancelled = False
        try:
            return await awaitable
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            self.exit(entry, task, cancelled)

    def enter(
        self, instant: float, task: asyncio.Task[Any], stretch_to: float | None = None
    ) -> Entry:
        """Bound ``task`` by ``instant``; pass the result to ``exit`` after.

        ``run``'s two halves, for a caller that saves the coroutine frame: ``exit`` goes
        in a ``finally``, told whether a CancelledError is on its way out. A loop stall
        may push ``instant`` back once, up to ``stretch_to`` (see the module's docstring).
        """
        if self._loop is None or self._loop() is not task.get_loop():
            # First use, or reused on another loop: the old one's timer is of no use here.
            self._reset(task.get_loop())
        entry = [instant, next(self._sequence), task, stretch_to]
        heapq.heappush(self._heap, entry)
        self._live += 1
        if instant < self._armed:
            self._arm(instant)
        return entry

    def exit(
        self, entry: Entry | None, task: asyncio.Task[Any] | None, cancelled: bool = False
    ) -> None:
        """End ``enter``'s bound; on a cancellation that was the deadline's, DeadlineExceeded."""
        if entry is None:
            return
        held = entry[2]
        entry[2] = None
        self._live -= 1
        if not self._live:
            # Nothing is bounded: drop the finished entries. The timer stays armed; it
            # finds nothing to do when it fires, instead of re-arming per scope.
            self._heap.clear()
        elif len(self._heap) > 2 * self._live + 256:
            # Finished scopes outnumber the open ones: drop them all at once, O(n)
            # spread over the scopes that finished since the last time.
            self._heap = [item for item in self._heap if item[2] is not None]
            heapq.heapify(self._heap)
        if held is EXPIRED:
            assert task is not None
            # Withdraw the deadline's cancel; another one (a server stopping) still stands.
            if _uncancel(task) == 0 and cancelled:
                raise DeadlineExceeded("deadline exceeded") from None

    def _arm(self, instant: float) -> None:
        self._cancel_timer()
        loop = self._loop() if self._loop is not None else None
        assert loop is not None
        self._timer = weakref.ref(loop.call_at(instant, self._fire))
        self._armed = instant

    def _fire(self) -> None:
        due = self._armed
        self._timer, self._armed = None, float("inf")
        heap = self._heap
        loop = self._loop() if self._loop is not None else None
        if loop is None:
            return
        now = loop.time()
        late = now - due  # how long the loop was held up past this timer
        stretched = []
        while heap and (heap[0][2] is None or heap[0][0] <= now):
            entry = heapq.heappop(heap)
            task = entry[2]
            if task is not None and task is not EXPIRED:
                limit = entry[3]
                if late >= STALL and limit is not None and limit > now:
                    # The stall's time was the caller's: give it back, once.
                    entry[0] = min(now + late, limit)
                    entry[3] = None
                    stretched.append(entry)
                    continue
                entry[2] = EXPIRED
                if not task.done():
                    task.cancel()
        for entry in stretched:
            heapq.heappush(heap, entry)
        if heap:
            self._arm(heap[0][0])

    def _reset(self, loop: asyncio.AbstractEventLoop) -> None:
        self._cancel_timer()
        self._armed, self._loop = float("inf"), weakref.ref(loop)
        self._heap = [item for item in self._heap if item[2] is not None]
        heapq.heapify(self._heap)
        if self._heap:
            self._arm(self._heap[0][0])

    def close(self) -> None:
        """Release the timer if no scope is open (a stopped server's last step)."""
        if not self._live:
            self._cancel_timer()
            self._armed = float("inf")

    def _cancel_timer(self) -> None:
        handle = self._timer() if self._timer is not None else None
        if handle is not None:
            handle.cancel()
        self._timer = None


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deadlines] = (
    weakref.WeakKeyDictionary()
)
_last: tuple[weakref.ref[asyncio.AbstractEventLoop], Deadlines] | None = None


def for_loop(loop: asyncio.AbstractEventLoop) -> Deadlines:
    """The ``Deadlines`` every ``kitcore.context.enforce`` on ``loop`` shares.

    Kept per loop, as asyncio keeps its running loop per thread: a loop that is
    collected takes its timer with it.
    """
    global _last
    last = _last
    if last is not None and last[0]() is loop:
        return last[1]  # the loop of the last call: no weak-dictionary lookup
    deadlines = _by_loop.get(loop)
    if deadlines is None:
        deadlines = _by_loop[loop] = Deadlines()
    _last = (weakref.ref(loop), deadlines)
    return deadlines


_CURRENT_TASKS: dict[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = (
    getattr(asyncio.tasks, "_current_tasks", None)
    if inspect.isfunction(asyncio.current_task)
    else None
)


def current_task(loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any] | None:
    """``loop``'s running task, as ``asyncio.current_task(loop)``, for the hot paths.

    Python 3.10 and 3.11 implement ``asyncio.current_task`` in Python; its C-level table
    is read directly there (3.12+ has a C ``current_task``, used as is).
    """
    if _CURRENT_TASKS is not None:
        return _CURRENT_TASKS.get(loop)
    return asyncio.current_task(loop)


def _uncancel(task: asyncio.Task[Any]) -> int:
    """Withdraw the deadline's cancellation of ``task``; the cancellations still pending."""
    if sys.version_info >= (3, 11):
        return task.uncancel()
    return 0  # no count to keep before 3.11: the deadline's is taken as the only one


__all__ = ["EXPIRED", "STALL", "Deadlines", "Entry", "current_task", "for_loop"]
