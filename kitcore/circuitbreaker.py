"""Circuit breakers: stop calling an instance that keeps failing, as Go kit's circuitbreaker.

A :class:`Breaker` is anything with ``calling()``, a context manager around one call:
entering raises :class:`~kitcore.errors.Unavailable` while the circuit is open, leaving
with an exception records a failure and leaving normally a success. pybreaker's
``breaker.calling()`` has this shape (kit-pybreaker maps its error to Unavailable).
:func:`circuit_breaker` turns a Breaker into a Middleware that never counts the
caller's own errors (invalid argument, not found, ...) against the instance.
:class:`ConsecutiveBreaker` is a small in-memory Breaker for tests and simple services.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol

from kitcore.context import remaining
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import Unavailable, is_caller_fault

CLOSED = "closed"
"""Calls go through; failures are counted."""
OPEN = "open"
"""Calls are refused with Unavailable until the reset timeout passes."""
HALF_OPEN = "half_open"
"""Trial calls go through: successes close the circuit, a failure opens it again."""


class Breaker(Protocol):
    """A circuit breaker: ``with breaker.calling(): ...`` around each call."""

    def calling(self) -> AbstractContextManager[None]:
        """Return a context manager for one call; entering raises Unavailable when open."""
        ...


def circuit_breaker(breaker: Breaker) -> Middleware:
    """Return a Middleware running each call inside ``breaker.calling()``.

    Errors that are the caller's fault (:func:`kitcore.errors.is_caller_fault`) are
    recorded as successes, since the instance answered, and re-raised unchanged. So is
    a cancellation before the call's deadline (the caller went away or shut down: the
    instance did nothing wrong); a cancellation once the deadline has passed (an
    ``enforce``/``deadline_middleware`` outside this one timing out) is a failure, as
    the instance was too slow.
    """

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            spared: BaseException
            with breaker.calling():
                try:
                    return await next_(request)
                except Exception as exc:
                    if not is_caller_fault(exc):
                        raise
                    spared = exc
                except asyncio.CancelledError as exc:
                    if _deadline_passed():
                        raise
                    spared = exc
            # Only reached when spared: after the breaker has recorded a success.
            raise spared

        return endpoint

    return middleware


_TIMER_SLACK = 0.001
"""Seconds a deadline's timer may fire early (event loop clock resolution): still its deadline."""


def _deadline_passed() -> bool:
    left = remaining()
    return left is not None and left <= _TIMER_SLACK


class ConsecutiveBreaker:
    """A breaker that opens after ``fail_max`` consecutive failures.

    After ``reset_timeout`` seconds open it lets trial calls through (half-open), at most
    ``success_threshold`` at once, as gobreaker's MaxRequests: the others are refused
    at once. Once ``success_threshold`` trials succeed it closes, and one failure opens
    it again. Safe to share between tasks and threads.
    """

    def __init__(
        self,
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        success_threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fail_max < 1 or success_threshold < 1:
            raise ValueError("fail_max and success_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.success_threshold = success_threshold
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._successes = 0
        self._trials = 0
        self._opened_at = 0.0

    @property
    def state(self) -> str:
        """The current state: ``"closed"``, ``"open"`` or ``"half_open"``."""
        with self._lock:
            self._refresh()
            return self._state

    def calling(self) -> AbstractContextManager[None]:
        """Return a context manager for one call; entering raises Unavailable when open."""
        return _Call(self)

    def _refresh(self) -> None:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = HALF_OPEN
            self._successes = 0
            self._trials = 0

    def _enter(self) -> bool:
        """Admit one call or raise Unavailable; True when the call is a half-open trial."""
        with self._lock:
            self._refresh()
            if self._state == OPEN:
                left = self.reset_timeout - (self._clock() - self._opened_at)
                raise Unavailable(
                    "circuit breaker is open", details={"retry_after": round(max(left, 0.0), 3)}
                )
            if self._state != HALF_OPEN:
                return False
            if self._trials >= self.success_threshold:
                raise Unavailable(
                    "circuit breaker is half-open: its trial calls are under way",
                    details={"retry_after": 0.0},
                )
            self._trials += 1
            return True

    def _record(self, failed: bool, trial: bool) -> None:
        with self._lock:
            if trial:
                self._trials -= 1
            if failed:
                self._successes = 0
                self._failures += 1
                if self._state == HALF_OPEN or self._failures >= self.fail_max:
                    self._trip()
            elif self._state == HALF_OPEN:
                self._successes += 1
                if self._successes >= self.success_threshold:
                    self._state = CLOSED
                    self._failures = 0
            else:
                self._failures = 0

    def _trip(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._failures = 0


class _Call:
    __slots__ = ("_breaker", "_trial")

    def __init__(self, breaker: ConsecutiveBreaker) -> None:
        self._breaker = breaker
        self._trial = False

    def __enter__(self) -> None:
        self._trial = self._breaker._enter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._breaker._record(failed=exc_type is not None, trial=self._trial)
