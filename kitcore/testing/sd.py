"""Conformance suites for service discovery backends: Instancers and Registrars.

A plugin author writes a driver that changes the backend behind the Instancer's back
(``add``/``remove``, and ``break_``/``restore`` when the server can be stopped), and an
``instances()`` listing what the backend holds, then runs the suites against the real
server. :class:`MemoryBackend` below is both for an in-memory backend, so this runs::

    from kitcore.testing import MemoryBackend, check_instancer, check_registrar

    async def test_instancer() -> None:
        backend = MemoryBackend()  # yours: a driver writing to your real server
        await check_instancer(backend.instancer, backend)

    async def test_registrar() -> None:
        backend = MemoryBackend()
        await check_registrar(backend.registrar, backend.snapshot)

A factory may also open the Instancer by URL through the plugins, as users will:
``check_instancer(lambda: kitcore.sd.instancer(f"myreg://{addr}/svc"), driver)``.

The suites wait for conditions with timeouts and never sleep blindly; a failure raises
AssertionError saying what was expected and what was seen. ``MemoryBackend`` is a small
in-memory backend (a driver, an Instancer, a Registrar) that passes both suites, also
for tests of code built on discovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from kitcore.backoff import Backoff
from kitcore.sd.event import Event
from kitcore.sd.instancer import BaseInstancer, Instancer
from kitcore.sd.registrar import BaseRegistrar

T = TypeVar("T")

DEFAULT_INSTANCES = ("10.0.0.1:8001", "10.0.0.2:8002", "10.0.0.3:8003")
"""Three distinct instances the suites add and remove, unless told otherwise."""


class InstancerDriver(Protocol):
    """Changes a backend's instance set behind an Instancer's back.

    A driver may also have ``async break_()`` (make the backend fail, e.g. stop the
    server) and ``async restore()`` (bring it back with its data); ``check_instancer``
    then checks error events too. Adding an instance that is already there changes nothing.
    """

    async def add(self, instance: str) -> None:
        """Add ``instance`` to the watched service."""
        ...

    async def remove(self, instance: str) -> None:
        """Remove ``instance`` from the watched service."""
        ...


class RegistrarLike(Protocol):
    """What ``check_registrar`` needs: a BaseRegistrar's public interface."""

    async def register(self) -> None:
        """Register the instance."""
        ...

    async def deregister(self) -> None:
        """Deregister the instance."""
        ...

    async def close(self) -> None:
        """Deregister if registered and release the backend."""
        ...

    async def __aenter__(self) -> Any:
        """Register."""
        ...

    async def __aexit__(self, *exc_info: Any) -> Any:
        """Close."""
        ...


async def _resolve(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


def _fail(message: str) -> AssertionError:
    return AssertionError(message)


class _Watcher:
    """Reads one subscription, checking that no event repeats the one before it."""

    def __init__(self, name: str, subscription: AsyncIterator[Event], timeout: float) -> None:
        self.name = name
        self.subscription = subscription
        self.timeout = timeout
        self.last: Event | None = None

    async def _read(self, deadline: float, what: str) -> Event:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            event = await asyncio.wait_for(self.subscription.__anext__(), left)
        except (TimeoutError, asyncio.TimeoutError):
            raise _fail(
                f"{self.name}: no {what} within {self.timeout}s; last event seen: {self.last}"
            ) from None
        except StopAsyncIteration:
            raise _fail(f"{self.name}: subscription ended while waiting for {what}") from None
        if not isinstance(event, Event):
            raise _fail(f"{self.name}: expected an Event, got {event!r}")
        if event == self.last:
            raise _fail(f"{self.name}: event repeated: {event} (equal events must not repeat)")
        self.last = event
        return event

    async def next(self, what: str) -> Event:
        """Return the next event."""
        return await self._read(time.monotonic() + self.timeout, what)

    async def until(self, predicate: Callable[[Event], bool], what: str) -> Event:
        """Read events until one satisfies ``predicate``; return it."""
        deadline = time.monotonic() + self.timeout
        while True:
            event = await self._read(deadline, what)
            if predicate(event):
                return event

    async def end(self, what: str) -> None:
        """Read events until the subscription ends."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                event = await asyncio.wait_for(self.subscription.__anext__(), left)
            except (TimeoutError, asyncio.TimeoutError):
                raise _fail(f"{self.name}: subscription did not end {what}") from None
            except StopAsyncIteration:
                return
            if event == self.last:
                raise _fail(f"{self.name}: event repeated: {event}")
            self.last = event

    async def aclose(self) -> None:
        """Close the subscription if it can be closed."""
        aclose = getattr(self.subscription, "aclose", None)
        if aclose is not None:
            await aclose()


def has_instances(*instances: str) -> Callable[[Event], bool]:
    """Predicate: a good event listing exactly ``instances``."""
    expected = tuple(sorted(instances))
    return lambda event: event.error is None and event.instances == expected


def is_error(event: Event) -> bool:
    """Predicate: an error event."""
    return event.error is not None


async def event_where(
    subscription: AsyncIterator[Event], predicate: Callable[[Event], bool], timeout: float = 5.0
) -> Event:
    """Read events until one satisfies ``predicate``; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    seen: list[Event] = []
    while True:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            event = await asyncio.wait_for(subscription.__anext__(), left)
        except (TimeoutError, asyncio.TimeoutError):
            raise _fail(f"no matching event within {timeout}s; saw {seen}") from None
        except StopAsyncIteration:
            raise _fail(f"subscription ended; saw {seen}") from None
        seen.append(event)
        if predicate(event):
            return event


async def check_instancer(
    make_instancer: Callable[[], Instancer | Awaitable[Instancer]],
    driver: InstancerDriver,
    *,
    timeout: float = 5.0,
    instances: Iterable[str] = DEFAULT_INSTANCES,
) -> None:
    """Check an Instancer against the contract, changing the backend through ``driver``.

    The watched service must start with no instances. Checked: the first event is the
    current (empty) state; additions and removals arrive; equal consecutive events never
    repeat; a later subscriber gets the current state first; when the driver can
    ``break_()`` and ``restore()``, an error event keeps the last good set and recovery
    delivers the current set; ``close()`` ends every subscription, is idempotent, and a
    subscription after it ends. The suite removes what it added when it passes.
    """
    a, b, c = tuple(instances)[:3]
    instancer = await _resolve(make_instancer())
    watchers: list[_Watcher] = []
    try:
        first = _Watcher("first subscriber", instancer.subscribe(), timeout)
        watchers.append(first)
        event = await first.next("initial event")
        if event.instances != ():
            raise _fail(f"initial state: expected no instances, got {event.instances}")

        await driver.add(a)
        await first.until(has_instances(a), f"event with {[a]} after add({a!r})")
        await driver.add(b)
        await first.until(has_instances(a, b), f"event with {sorted([a, b])} after add({b!r})")

        second = _Watcher("second subscriber", instancer.subscribe(), timeout)
        watchers.append(second)
        event = await second.next("first event")
        if event != Event((a, b)):
            raise _fail(f"second subscriber: first event should be the current state, got {event}")

        await driver.remove(a)
        for watcher in (first, second):
            await watcher.until(has_instances(b), f"event with {[b]} after remove({a!r})")

        await driver.add(b)  # already there: must not produce a repeated event
        await driver.add(c)
        for watcher in (first, second):
            await watcher.until(
                has_instances(b, c), f"event with {sorted([b, c])} after add({c!r})"
            )

        break_ = getattr(driver, "break_", None)
        restore = getattr(driver, "restore", None)
        if break_ is not None and restore is not None:
            await break_()
            event = await first.until(lambda e: e.error is not None, "error event after break_()")
            if event.instances != tuple(sorted([b, c])):
                raise _fail(
                    f"error event should keep the last good set {sorted([b, c])}, "
                    f"got {event.instances}"
                )
            await restore()
            await first.until(has_instances(b, c), f"recovery to {sorted([b, c])} after restore()")

        await instancer.close()
        for watcher in watchers:
            await watcher.end("after close()")
        await instancer.close()
        late = _Watcher("subscriber after close", instancer.subscribe(), timeout)
        await late.end("when subscribed after close()")
    finally:
        for watcher in watchers:
            await watcher.aclose()
        await instancer.close()
    await driver.remove(b)
    await driver.remove(c)


async def check_registrar(
    make_registrar: Callable[[str], RegistrarLike | Awaitable[RegistrarLike]],
    instances: Callable[[], Awaitable[set[str]]],
    *,
    timeout: float = 5.0,
    names: Iterable[str] = DEFAULT_INSTANCES,
) -> None:
    """Check a Registrar built by ``make_registrar(instance)``; ``instances()`` lists the backend.

    Checked: register makes the instance visible and deregister removes it; deregister
    twice is harmless; registering again works; close deregisters and is idempotent;
    ``async with`` registers on enter and deregisters on exit; closing a registrar that
    never registered is harmless.
    """
    a, b, c = tuple(names)[:3]
    poll = Backoff(base=0.005, cap=0.1, jitter=False)

    async def visible(instance: str, wanted: bool, when: str) -> None:
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            seen = await instances()
            if (instance in seen) == wanted:
                return
            if time.monotonic() >= deadline:
                state = "visible" if wanted else "gone"
                raise _fail(f"{instance!r} not {state} {when} within {timeout}s; backend: {seen}")
            await asyncio.sleep(min(poll.delay(attempt), max(0.0, deadline - time.monotonic())))
            attempt += 1

    opened: list[RegistrarLike] = []
    try:
        registrar = await _resolve(make_registrar(a))
        opened.append(registrar)
        await visible(a, False, "before register()")
        await registrar.register()
        await visible(a, True, "after register()")
        await registrar.deregister()
        await visible(a, False, "after deregister()")
        await registrar.deregister()
        await registrar.register()
        await visible(a, True, "after registering again")
        await registrar.close()
        await visible(a, False, "after close()")
        await registrar.close()

        scoped = await _resolve(make_registrar(b))
        opened.append(scoped)
        async with scoped:
            await visible(b, True, "inside async with")
        await visible(b, False, "after async with")
        await scoped.close()

        idle = await _resolve(make_registrar(c))
        opened.append(idle)
        await idle.close()
        await idle.close()
        await visible(c, False, "after closing a registrar that never registered")
    finally:
        for each in opened:
            await each.close()


_REGISTERED_CHILD = """
import asyncio, sys
from kitcore.sd import registrar

async def main():
    registration = registrar(sys.argv[1], sys.argv[2])
    await registration.register()
    print("registered", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def registered_process(
    url: str, instance: str, timeout: float = 30.0
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A process of its own registering ``instance`` at ``url`` then idling, as a service.

    Registers through ``kitcore.sd.registrar(url, instance)`` (so options go in the URL)
    and yields once it has; a test typically SIGKILLs it to show that a dead instance
    leaves the set without deregistering. Killed on the way out if still running.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _REGISTERED_CHILD, url, instance, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout)
        if line != b"registered\n":
            raise _fail(f"the registering process did not register at {url!r}: {line!r}")
        yield child
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


class MemoryBackend:
    """An in-memory discovery backend: an InstancerDriver with ``break_``/``restore``."""

    def __init__(self, instances: Iterable[str] = ()) -> None:
        self.instances: set[str] = set(instances)
        self.broken = False
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def add(self, instance: str) -> None:
        """Add an instance."""
        self.instances.add(instance)
        self._notify()

    async def remove(self, instance: str) -> None:
        """Remove an instance."""
        self.instances.discard(instance)
        self._notify()

    async def break_(self) -> None:
        """Make every watcher fail until ``restore()``."""
        self.broken = True
        self._notify()

    async def restore(self) -> None:
        """End the failure."""
        self.broken = False
        self._notify()

    async def snapshot(self) -> set[str]:
        """Return the registered instances (the ``instances`` argument of check_registrar)."""
        return set(self.instances)

    def next_change(self) -> asyncio.Event:
        """Return an asyncio.Event set by the next change (take it before reading the state)."""
        return self._changed

    def instancer(self) -> MemoryInstancer:
        """Return a new Instancer watching this backend."""
        return MemoryInstancer(self)

    def registrar(self, instance: str) -> MemoryRegistrar:
        """Return a new Registrar for ``instance``."""
        return MemoryRegistrar(self, instance)


class MemoryInstancer(BaseInstancer):
    """An Instancer watching a MemoryBackend, through BaseInstancer's watch task."""

    def __init__(self, backend: MemoryBackend) -> None:
        super().__init__()
        self._backend = backend

    async def _watch(self) -> None:
        backend = self._backend
        while True:
            change = backend.next_change()
            if backend.broken:
                # A fresh exception each time, as a real reconnect loop raises.
                self.update(Event(error=ConnectionError("memory backend is broken")))
            else:
                self.update(Event(backend.instances))
            await change.wait()


class MemoryRegistrar(BaseRegistrar):
    """A Registrar adding one instance to a MemoryBackend."""

    def __init__(self, backend: MemoryBackend, instance: str) -> None:
        super().__init__()
        self._backend = backend
        self.instance = instance

    async def _register(self) -> None:
        await self._backend.add(self.instance)

    async def _deregister(self) -> None:
        await self._backend.remove(self.instance)
