"""Instancer: a stream of a service's instance sets, and the base class backends build on.

As in Go kit, an Instancer watches one service in a discovery backend and reports each
new set of instances as an Event. Here the stream is an async iterator: subscribe, then
``async for event in subscription``. Subscribers are conflating mailboxes: one that
falls behind gets the latest state when it looks again, never a backlog.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from kitcore.sd.event import Event


@runtime_checkable
class Instancer(Protocol):
    """Watches one service and reports its instance sets as Events."""

    def subscribe(self) -> AsyncIterator[Event]:
        """Return an iterator of events: the current state first, then each change.

        Equal consecutive events are not repeated; the iterator ends when the
        instancer is closed.
        """
        ...

    async def close(self) -> None:
        """Stop watching and end every subscription; idempotent."""
        ...


class Subscription:
    """One subscriber's conflating mailbox: it holds at most the latest undelivered event."""

    def __init__(self, instancer: BaseInstancer) -> None:
        self._instancer: BaseInstancer | None = instancer
        self._pending: Event | None = None
        self._delivered: Event | None = None
        self._ended = False
        self._wake = asyncio.Event()

    def _offer(self, event: Event) -> None:
        self._pending = event
        self._wake.set()

    def _end(self) -> None:
        self._ended = True
        self._instancer = None
        self._wake.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._instancer is not None:
            # Covers subscribe() called outside the loop: the watch starts on first use.
            self._instancer.start()
        while True:
            event, self._pending = self._pending, None
            if event is not None and event != self._delivered:
                self._delivered = event
                return event
            if self._ended:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()

    async def aclose(self) -> None:
        """Stop receiving events; a pending ``__anext__`` ends."""
        if self._instancer is not None:
            self._instancer._subscribers.discard(self)
        self._pending = None
        self._end()


class BaseInstancer:
    """The state, subscribers and watch task every discovery backend needs.

    A backend subclasses this and overrides ``_watch()``: a coroutine that watches the
    backend and calls ``self.update(Event(instances))`` on each change and
    ``self.update(Event(error=exc))`` when the backend fails (then retries, e.g. with
    ``kitcore.backoff.Backoff``). It runs as a task started by the first ``subscribe()``
    (or ``start()``) and is cancelled by ``close()``; if it raises, its exception becomes
    an error event. Override ``_close()`` to release clients after the task has stopped.

    ``update()`` must be called on the event loop's thread. A thread-based backend (a
    kazoo watcher, say) captures the loop in ``_watch()`` and hands events over with
    ``loop.call_soon_threadsafe(instancer.update, event)``.
    """

    def __init__(self) -> None:
        self._state: Event | None = None
        self._last_good: tuple[str, ...] = ()
        self._subscribers: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False
        self._close_done = asyncio.Event()

    @property
    def state(self) -> Event | None:
        """The current state, or None before the first update."""
        return self._state

    @property
    def closed(self) -> bool:
        """True once ``close()`` has been called."""
        return self._closed

    def update(self, event: Event) -> None:
        """Record a new state and wake subscribers, unless it equals the current one.

        An error event's instances are replaced by the last good set. Updates after
        ``close()`` are dropped. Call this on the loop's thread only.
        """
        if self._closed:
            return
        if event.error is None:
            self._last_good = event.instances
        elif event.instances != self._last_good:
            event = Event(self._last_good, event.error)
        if event == self._state:
            return
        self._state = event
        for subscription in list(self._subscribers):
            subscription._offer(event)

    def subscribe(self) -> Subscription:
        """Return a new subscription; its first event is the current state (or the first one)."""
        subscription = Subscription(self)
        if self._closed:
            subscription._end()
            return subscription
        if self._state is not None:
            subscription._offer(self._state)
        self._subscribers.add(subscription)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return subscription  # no loop yet: the subscription starts the watch when iterated
        self.start()
        return subscription

    def start(self) -> None:
        """Start the watch task now, if the subclass has one; needs a running loop."""
        if self._started or self._closed or type(self)._watch is BaseInstancer._watch:
            return
        self._started = True
        task = asyncio.get_running_loop().create_task(
            self._watch(), name=f"{type(self).__name__}._watch"
        )
        task.add_done_callback(self._watch_done)
        self._task = task

    def _watch_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.update(Event(error=task.exception()))

    async def _watch(self) -> None:
        """Watch the backend, calling ``update()``; override in a backend."""

    async def _close(self) -> None:
        """Release the backend's clients; override in a backend. Called once, after the watch."""

    async def close(self) -> None:
        """End every subscription, stop the watch task, release the backend; idempotent."""
        if self._closed:
            await self._close_done.wait()
            return
        self._closed = True
        try:
            for subscription in list(self._subscribers):
                subscription._end()
            self._subscribers.clear()
            task = self._task
            if task is not None and task is not asyncio.current_task() and not task.done():
                task.cancel()
                await asyncio.wait({task})
            await self._close()
        finally:
            self._close_done.set()
