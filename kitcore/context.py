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
import time
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar

from kitcore.deadlines import Deadlines, Entry, current_task, for_loop
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import DeadlineExceeded

T = TypeVar("T")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_values: ContextVar[Mapping[str, Any]] = ContextVar("kit_values", default=_EMPTY)
_deadline: ContextVar[float | None] = ContextVar("kit_deadline", default=None)
# The innermost enforce() scope: its Deadlines entry, [instant, sequence, task, ...] (child
# tasks inherit the variable, hence the task).
_scope: ContextVar[Entry | None] = ContextVar("kit_scope", default=None)


def get(key: str, default: Any = None) -> Any:
    """Return the request-scoped value stored under ``key``, or ``default``."""
    return _values.get().get(key, default)


def values() -> Mapping[str, Any]:
    """Return every request-scoped value (read-only)."""
    return _values.get()


@contextmanager
def bind(**kv: Any) -> Iterator[None]:
    """Set request-scoped values for the duration of the ``with`` block."""
    token = enter_values(kv)
    try:
        yield
    finally:
        exit_values(token)


def enter_values(kv: Mapping[str, Any]) -> Token[Mapping[str, Any]]:
    """Add ``kv`` to the request-scoped values until ``exit_values``.

    ``bind``'s two halves, for the hot paths that cannot spare its generator.
    """
    return _values.set(MappingProxyType({**_values.get(), **kv}))


def exit_values(token: Token[Mapping[str, Any]] | None) -> None:
    """Undo ``enter_values`` (None: nothing to undo)."""
    if token is not None:
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


def enter_deadline(instant: float) -> Token[float | None] | None:
    """Bound the deadline by ``instant`` (never extending it) until ``exit_deadline``.

    Returns the token to pass to ``exit_deadline``: None when an earlier deadline
    stands. ``timeout``'s two halves, for the hot paths that cannot spare its object.
    """
    current = _deadline.get()
    if current is None or instant < current:
        return _deadline.set(instant)
    return None


def exit_deadline(token: Token[float | None] | None) -> None:
    """Undo ``enter_deadline``."""
    if token is not None:
        _deadline.reset(token)


class timeout:  # lower case: to its callers a function, ``with timeout(2.0):``
    """Bound the ``with`` block's deadline to ``seconds`` from now (never extends it)."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        if self._seconds is not None:
            self._token = enter_deadline(now() + self._seconds)

    def __exit__(self, *exc: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            _deadline.reset(token)


def enforce(awaitable: Awaitable[T], until: float | None = None) -> Awaitable[T]:
    """``awaitable`` within the current deadline: awaiting it raises DeadlineExceeded at it.

    ``until`` (an instant on :func:`now`'s clock) bounds it sooner. Within a scope of
    the same task that already ends as soon, ``awaitable`` itself is returned and no
    second timer armed: that scope's expiry cancels this await too and reports it. (A
    plain function, not a coroutine, so that case costs no coroutine frame.)
    """
    instant = _deadline.get()
    if until is not None and (instant is None or until < instant):
        instant = until
    if instant is None:
        return awaitable
    loop = asyncio.get_running_loop()
    task = current_task(loop)
    outer = _scope.get()
    if outer is not None and outer[2] is task and outer[0] <= instant:
        return awaitable
    return _enforce(awaitable, instant)


async def _enforce(
    awaitable: Awaitable[T], instant: float | None, seconds: float | None = None
) -> T:
    """Await ``awaitable`` bounded by ``instant``, or (``within``) by the deadline
    tightened to ``seconds`` from now, set in this coroutine's own context so that it
    ends with it. One coroutine frame for both: every bounded request runs one."""
    token = None
    if seconds is not None:
        instant = asyncio.get_running_loop().time() + seconds
        current = _deadline.get()
        if current is None or instant < current:
            token = _deadline.set(instant)
        else:
            instant = current  # the caller's earlier deadline stands
    assert instant is not None  # None only with seconds, set just above
    try:
        try:
            scope = open_scope(instant)
        except BaseException:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise
        cancelled = False
        try:
            return await awaitable
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            close_scope(scope, cancelled)
    finally:
        exit_deadline(token)


Scope: TypeAlias = "tuple[Entry, Token[Entry | None], Deadlines, asyncio.Task[Any]] | None"
"""What ``open_scope`` returns and ``close_scope`` takes."""


def open_scope(
    instant: float,
    stretch_to: float | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Scope:
    """Bound the current task by ``instant`` until ``close_scope``: ``enforce`` in two halves.

    For the hot paths that cannot spare ``enforce``'s coroutine frame (Retry's attempts):

        scope = open_scope(instant)
        cancelled = False
        try:
            result = await work
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            close_scope(scope, cancelled)  # raises DeadlineExceeded at the instant

    Raises DeadlineExceeded at once when ``instant`` has passed. Returns None (no timer)
    within a scope of this task that ends as soon. ``stretch_to``: a bound the caller's
    own loop stalls should not count against (a retry's attempt) may be pushed back by
    a stall, up to that instant (``kitcore.deadlines``). ``loop``: the running loop, when
    the caller has it at hand.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    task = current_task(loop)
    if task is None:
        raise RuntimeError("kitcore.context.open_scope needs a running task")
    outer = _scope.get()
    if outer is not None and outer[2] is task and outer[0] <= instant:
        return None
    if instant <= loop.time():
        raise DeadlineExceeded("deadline exceeded")
    deadlines = for_loop(loop)
    entry = deadlines.enter(instant, task, stretch_to)
    return entry, _scope.set(entry), deadlines, task


def close_scope(scope: Scope, cancelled: bool) -> None:
    """End ``open_scope``'s bound; DeadlineExceeded when its instant cut the work short."""
    if scope is not None:
        entry, token, deadlines, task = scope
        _scope.reset(token)
        deadlines.exit(entry, task, cancelled)


def within(seconds: float | None, awaitable: Awaitable[T]) -> Awaitable[T]:
    """Await ``awaitable`` with the deadline bounded to ``seconds`` from now (None: as is).

    ``timeout`` and ``enforce`` in one: callees see the deadline (``remaining()``), and
    the await raises DeadlineExceeded when it passes. Servers bound each request so.
    (A plain function, as ``enforce``: the coroutine it returns is the only frame.)
    """
    if seconds is None:
        return enforce(awaitable)
    return _enforce(awaitable, None, seconds)


def scope_end() -> float | None:
    """The instant the innermost ``enforce`` scope ends at (an attempt's, say), or None."""
    scope = _scope.get()
    return None if scope is None else scope[0]


def deadline_middleware(seconds: float) -> Middleware:
    """Return a Middleware bounding each call to ``seconds`` (or the caller's earlier deadline)."""

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            return await within(seconds, next_(request))

        return endpoint

    return middleware
