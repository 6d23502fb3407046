"""Endpointer: a cache of client endpoints kept in step with an Instancer.

As Go kit's ``sd.Endpointer`` and its endpoint cache: one endpoint per instance, built by
a Factory when the instance appears, reused while it stays, closed when it goes. When
discovery fails the last good endpoints are kept, since the instances are probably still
there; with ``invalidate_on_error=T`` they are dropped once the failure has lasted T
seconds, after which callers get ``Unavailable`` instead of stale endpoints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TypeVar

from kitcore.context import enforce, now
from kitcore.endpoint import Endpoint
from kitcore.errors import Unavailable
from kitcore.sd.event import Event
from kitcore.sd.factory import Closer, Factory, close_quietly
from kitcore.sd.instancer import Instancer

E = TypeVar("E", bound="Endpointer | FixedEndpointer")


class Endpointer:
    """Endpoints for every instance an Instancer reports, built by ``factory``.

    The instancer is not owned: ``close()`` stops the subscription and closes the
    endpoints, but closing the instancer is the caller's job (once it is closed, the
    last endpoints stay as they are). ``logger`` is any object
    with a ``log(**kv)`` method; without one nothing is logged.
    """

    def __init__(
        self,
        instancer: Instancer,
        factory: Factory,
        *,
        logger: Any = None,
        invalidate_on_error: float | None = None,
    ) -> None:
        if invalidate_on_error is not None and invalidate_on_error < 0:
            raise ValueError(f"invalidate_on_error must be >= 0, got {invalidate_on_error}")
        self._instancer = instancer
        self._factory = factory
        self._logger = logger
        self._invalidate_after = invalidate_on_error
        self._cache: dict[str, tuple[Endpoint, Closer | None]] = {}
        # A tuple, handed out as is: no copy per call on the balancer's hot path.
        self._endpoints: tuple[Endpoint, ...] = ()
        self._error: BaseException | None = None
        self._invalidate_at: float | None = None
        self._invalidated = False
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()
        self._closed = False
        self._close_done = asyncio.Event()

    async def endpoints(self) -> tuple[Endpoint, ...]:
        """Return the current endpoints; the first call waits for discovery's first event.

        Raises ``Unavailable`` once closed, or once discovery has failed for longer than
        ``invalidate_on_error`` seconds (chained from the discovery error).
        """
        if not self._ready.is_set():
            self.start()
            await enforce(self._ready.wait())
        if self._closed:
            raise Unavailable("endpointer is closed")
        error = self._error
        if error is not None and self._invalidate_at is not None:
            if not self._invalidated and now() >= self._invalidate_at:
                self._invalidate()
            if self._invalidated:
                raise Unavailable(f"service discovery failing: {error}") from error
        return self._endpoints

    def start(self) -> None:
        """Start following the instancer now, without waiting; ``endpoints()`` does it too."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="Endpointer._run")

    async def _run(self) -> None:
        subscription = None
        try:
            subscription = self._instancer.subscribe()
            async for event in subscription:
                await self._apply(event)
        except Exception as exc:
            # A broken instancer is a discovery error, not a crash of the caller's call.
            self._on_error(exc)
        finally:
            self._ready.set()
            aclose = getattr(subscription, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _apply(self, event: Event) -> None:
        if event.error is not None:
            self._on_error(event.error)
            self._ready.set()
            return
        self._clear_error()
        new: dict[str, tuple[Endpoint, Closer | None]] = {}
        for instance in event.instances:
            cached = self._cache.get(instance)
            if cached is not None:
                new[instance] = cached
                continue
            try:
                new[instance] = self._factory(instance)
            except Exception as exc:
                # Not cached: the next event that lists the instance tries again.
                self._log(level="error", msg="endpoint factory failed", instance=instance, err=exc)
        removed = [(i, closer) for i, (_, closer) in self._cache.items() if i not in new]
        # Swap first, so endpoints() never hands out an endpoint that is being closed.
        self._cache = new
        self._endpoints = tuple(endpoint for endpoint, _ in new.values())
        self._ready.set()
        await self._close_all(removed)

    def _on_error(self, error: BaseException) -> None:
        self._log(level="error", msg="service discovery failed", err=error)
        if self._invalidate_after is None or self._error is not None:
            return  # keep the first error and its deadline, as Go kit does
        self._error = error
        self._invalidate_at = now() + self._invalidate_after
        self._timer = asyncio.get_running_loop().call_later(
            self._invalidate_after, self._invalidate
        )

    def _clear_error(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._error = None
        self._invalidate_at = None
        self._invalidated = False

    def _invalidate(self) -> None:
        if self._invalidated or self._error is None or self._closed:
            return
        self._invalidated = True
        self._log(level="error", msg="endpoints invalidated", err=self._error)
        removed = [(i, closer) for i, (_, closer) in self._cache.items()]
        self._cache = {}
        self._endpoints = ()
        if removed:
            task = asyncio.get_running_loop().create_task(self._close_all(removed))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close_all(self, removed: Iterable[tuple[str, Closer | None]]) -> None:
        for instance, closer in removed:
            error = await close_quietly(closer)
            if error is not None:
                self._log(level="error", msg="endpoint closer failed", instance=instance, err=error)

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(**kv)

    async def close(self) -> None:
        """Stop following the instancer and close every endpoint; idempotent."""
        if self._closed:
            await self._close_done.wait()
            return
        self._closed = True
        self._ready.set()
        try:
            if self._timer is not None:
                self._timer.cancel()
            task = self._task
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
            removed = [(i, closer) for i, (_, closer) in self._cache.items()]
            self._cache = {}
            self._endpoints = ()
            await self._close_all(removed)
            if self._closing:
                await asyncio.wait(set(self._closing))
        finally:
            self._close_done.set()

    async def __aenter__(self: E) -> E:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class FixedEndpointer:
    """A fixed list of endpoints behind the Endpointer interface, for tests and static use."""

    def __init__(self, endpoints: Iterable[Endpoint]) -> None:
        self._endpoints = tuple(endpoints)

    async def endpoints(self) -> tuple[Endpoint, ...]:
        """Return the endpoints."""
        return self._endpoints

    async def close(self) -> None:
        """Do nothing: a FixedEndpointer owns nothing."""

    async def __aenter__(self: E) -> E:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
