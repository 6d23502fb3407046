"""Request context: request-scoped values and the deadline, carried in contextvars.

Go kit threads a ``context.Context`` through every call. In Python the same job is done
by ``contextvars``: transports and middleware set values here, asyncio copies them into
every task the request starts, and no function needs an extra ``ctx`` argument.

The deadline is an absolute instant on :func:`now`'s clock: the running event loop's
(``loop.time()``, the clock asyncio's own timeouts and sleeps run on), or
``time.monotonic()`` outside one. Measuring on the loop's clock is what lets a loop
with another notion of time (``kitcore.testing.virtual_time``) run kit's real deadline
arithmetic unchanged; on asyncio's default loop the two clocks are the same. Setting a
deadline never extends one already in force: the earlier of the two wins, as in Go.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any, TypeVar

from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import DeadlineExceeded

T = TypeVar("T")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_values: ContextVar[Mapping[str, Any]] = ContextVar("kit_values", default=_EMPTY)
_deadline: ContextVar[float | None] = ContextVar("kit_deadline", default=None)


def get(key: str, default: Any = None) -> Any:
    """Return the request-scoped value stored under ``key``, or ``default``."""
    return _values.get().get(key, default)


def values() -> Mapping[str, Any]:
    """Return every request-scoped value (read-only)."""
    return _values.get()


@contextmanager
def bind(**kv: Any) -> Iterator[None]:
    """Set request-scoped values for the duration of the ``with`` block."""
    token = _values.set(MappingProxyType({**_values.get(), **kv}))
    try:
        yield
    finally:
        _values.reset(token)


def set_values(**kv: Any) -> None:
    """Set request-scoped values for the rest of the current context (a transport's task)."""
    _values.set(MappingProxyType({**_values.get(), **kv}))


def now() -> float:
    """The clock deadlines are measured on: the running loop's ``time()``, else monotonic."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:  # no loop in this thread
        return time.monotonic()


def deadline() -> float | None:
    """Return the current deadline as an instant on :func:`now`'s clock, or None."""
    return _deadline.get()


def remaining() -> float | None:
    """Return the seconds left before the deadline (may be negative), or None when unbounded."""
    d = _deadline.get()
    return None if d is None else d - now()


def set_deadline(instant: float | None) -> None:
    """Set the deadline (an instant on :func:`now`'s clock) for the rest of the context.

    An earlier deadline already in force stays.
    """
    current = _deadline.get()
    if instant is not None and (current is None or instant < current):
        _deadline.set(instant)


class timeout:  # lower case: to its callers a function, ``with timeout(2.0):``
    """Bound the ``with`` block's deadline to ``seconds`` from now (never extends it)."""

    # A class, not @contextmanager: every call through a client or server enters one,
    # and a generator's frame costs about three times as much.
    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        if self._seconds is None:
            return
        instant = now() + self._seconds
        current = _deadline.get()
        if current is None or instant < current:
            self._token = _deadline.set(instant)

    def __exit__(self, *exc: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            _deadline.reset(token)


async def enforce(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` within the current deadline; raise DeadlineExceeded when it passes."""
    left = remaining()
    if left is None:
        return await awaitable
    if left <= 0:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise DeadlineExceeded("deadline exceeded")
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(left):
                return await awaitable
        return await asyncio.wait_for(awaitable, left)
    except (TimeoutError, asyncio.TimeoutError):
        raise DeadlineExceeded("deadline exceeded") from None


def deadline_middleware(seconds: float) -> Middleware:
    """Return a Middleware bounding each call to ``seconds`` (or the caller's earlier deadline)."""

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            with timeout(seconds):
                return await enforce(next_(request))

        return endpoint

    return middleware
