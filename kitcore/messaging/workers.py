"""A fixed set of tasks serving messages in turn, instead of a task for each message.

A broker client hands a subscriber its messages one at a time, from one task. Serving
each in a task of its own keeps a handler that waits (on a database, another service)
from holding up the rest, but a task a message is the largest cost a subscriber has:
on NATS request-reply it measured more than kit's whole dispatch (decode, route,
encode, options). ``Workers`` keeps the concurrency and drops that cost: up to
``concurrency`` worker tasks take queued messages in turn, each serving one at a time.

A worker serves messages one after the other for as long as each handler finishes
without waiting, so a burst that needs no I/O costs no task switch at all. Before it
serves one while others are queued, it makes sure another worker is due to run: if the
handler does wait, that one takes the next message, and so on, up to ``concurrency``
handlers waiting at once. Past that, messages queue here; once ``concurrency`` are
queued, ``put`` waits, so a flood backs up in the broker client's own buffer (with its
limits) rather than in memory here.

A worker's task is reused from message to message, so a ``ContextVar`` a handler sets
and does not reset is still set for the next message that worker serves (as it is for
a broker client's own callbacks). kit's own values (``kitcore.context``: deadlines,
bound values) are reset after each call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_log = logging.getLogger("kitcore.messaging")


class Workers(Generic[T]):
    """Serves each item ``put`` with ``serve``, at most ``concurrency`` at once."""

    def __init__(self, serve: Callable[[T], Awaitable[None]], concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self._serve = serve
        self._concurrency = concurrency
        self._queue: deque[T] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._parked: list[asyncio.Future[None]] = []
        self._due = False  # a worker was woken (or started) and has not looked yet
        self._busy = 0  # items taken and not yet served
        self._room: asyncio.Future[None] | None = None  # put() waiting for the queue
        self._quiet: asyncio.Future[None] | None = None  # drain() waiting
        self._closed = False

    @property
    def pending(self) -> int:
        """Items queued or being served."""
        return len(self._queue) + self._busy

    async def put(self, item: T) -> None:
        """Queue ``item``; wait while ``concurrency`` items are queued already."""
        if self._closed:
            raise RuntimeError("Workers closed")
        queue = self._queue
        queue.append(item)
        if not self._due:
            self._wake()
        if len(queue) >= self._concurrency:
            if self._room is None:  # (a worker resolving it sets it back to None)
                self._room = asyncio.get_running_loop().create_future()
            # Shielded: it is shared, and a put() cancelled while it waits must not
            # cancel it for the others (nor for the worker that resolves it).
            await asyncio.shield(self._room)

    def _wake(self) -> None:
        # Make one worker due to run: it takes what is queued when it does.
        while self._parked:
            parked = self._parked.pop()
            if not parked.done():  # (a worker cancelled while parked is gone)
                self._due = True
                parked.set_result(None)
                return
        if len(self._tasks) < self._concurrency and not self._closed:
            self._due = True
            task = asyncio.get_running_loop().create_task(self._work())
            self._tasks.add(task)
            task.add_done_callback(self._gone)
        # Else every worker is serving: the first to finish takes the next item.

    async def _work(self) -> None:
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            self._due = False
            while queue:
                item = queue.popleft()
                room = self._room
                if room is not None and len(queue) < self._concurrency:
                    self._room = None
                    room.set_result(None)
                if queue and not self._due:
                    self._wake()  # someone to go on with the rest if this one waits
                self._busy += 1
                try:
                    await self._serve(item)
                except Exception:
                    _log.exception("serving a message failed")
                finally:
                    self._busy -= 1
            if self._quiet is not None and not self._busy and not self._quiet.done():
                self._quiet.set_result(None)
            parked = loop.create_future()
            self._parked.append(parked)
            await parked

    def _gone(self, task: asyncio.Task[None]) -> None:
        # A worker ends only when cancelled, perhaps before it ever ran (a shutdown
        # cancelling every task): put() must not go on thinking a worker is due.
        self._tasks.discard(task)
        self._due = False
        if self._queue and not self._closed:
            self._wake()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being served (at most ``timeout`` s)."""
        while self.pending:
            self._quiet = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._quiet, timeout)
            except (TimeoutError, asyncio.TimeoutError):
                return False
            finally:
                self._quiet = None
        return True

    async def close(self) -> None:
        """Stop every worker, cancelling what they serve; queued items are dropped.

        ``put`` is refused while this runs and accepted again after it.
        """
        self._closed = True
        self._queue.clear()
        room, self._room = self._room, None
        if room is not None:
            room.set_result(None)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._parked.clear()
        self._due = False
        self._closed = False
