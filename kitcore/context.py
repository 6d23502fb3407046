"""Request context: request-scoped values and the deadline, carried in contextvars.

Go kit threads a ``context.Context`` through every call. In Python the same job is done
by ``contextvars``: transports and middleware set values here, asyncio copies them into
every task the request starts, and no function needs an extra ``ctx`` argument.

The deadline is an absolute ``time.monotonic()`` instant. Setting a deadline never
extends one already in force: the earlier of the two wins, as in Go.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
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


def deadline() -> float | None:
    """Return the current deadline as a ``time.monotonic()`` instant, or None."""
    return _deadline.get()


def remaining() -> float | None:
    """Return the seconds left before the deadline (may be negative), or None when unbounded."""
    d = _deadline.get()
    return None if d is None else d - time.monotonic()


def set_deadline(instant: float | None) -> None:
    """Set the deadline for the rest of the current context; an earlier one stays in force."""
    current = _deadline.get()
    if instant is not None and (current is None or instant < current):
        _deadline.set(instant)


@contextmanager
def timeout(seconds: float | None) -> Iterator[None]:
    """Bound the ``with`` block's deadline to ``seconds`` from now (never extends it)."""
    current = _deadline.get()
    instant = None if seconds is None else time.monotonic() + seconds
    if instant is None or (current is not None and current <= instant):
        yield
        return
    token = _deadline.set(instant)
    try:
        yield
    finally:
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
