"""PyBreaker: a kit Breaker over ``pybreaker.CircuitBreaker`` that works on coroutines.

pybreaker's decorator (``@circuit``) calls the function and records the outcome at once;
for an ``async def`` that outcome is a coroutine object, a success, so the circuit
never opens however often the awaited call fails. kit's middleware awaits *inside*
``breaker.calling()`` instead, and pybreaker records the outcome when the block exits.
This adapter maps pybreaker's CircuitBreakerError to kit's Unavailable (HTTP 503, gRPC
UNAVAILABLE) with a ``retry_after``, never counts the caller's own errors, and reports
state changes through kit's logger and metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import pybreaker

from kit_pybreaker.telemetry import STATES, StateTelemetry
from kitcore.errors import Unavailable, is_caller_fault
from kitcore.log import Logger, nop_logger
from kitcore.metrics import DiscardProvider, Provider

if TYPE_CHECKING:
    from redis import Redis

Exclusion: TypeAlias = type[BaseException] | Callable[[BaseException], bool]
"""An error class, or a predicate over the error, that a breaker does not count."""


class PyBreaker:
    """A circuit breaker: ``fail_max`` consecutive failures open it for ``reset_timeout`` s.

    Then one trial call goes through (half-open); ``success_threshold`` successes close
    it, a failure opens it again. Errors matching ``exclude`` (classes or predicates)
    and the caller's own errors (:func:`kitcore.errors.is_caller_fault`) are not
    failures. An open circuit refuses calls at once with Unavailable carrying
    ``details["retry_after"]`` (seconds). The call whose failure opens the circuit
    raises its own error, or Unavailable when ``trip_error`` is set.

    State lives in memory, or in Redis to be shared by every process using the same
    ``name`` (``redis=`` a URL or a synchronous ``redis.Redis`` client; pybreaker's
    CircuitRedisStorage). State changes are logged to ``logger`` and counted in
    ``metrics`` (see :class:`~kit_pybreaker.telemetry.StateTelemetry`).
    """

    circuit: pybreaker.CircuitBreaker
    """The underlying ``pybreaker.CircuitBreaker`` (to open or close it by hand)."""

    def __init__(
        self,
        name: str = "default",
        *,
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        success_threshold: int = 1,
        exclude: Iterable[Exclusion] = (),
        trip_error: bool = False,
        logger: Logger | None = None,
        metrics: Provider | None = None,
        metrics_namespace: str = "kit",
        redis: Redis | str | None = None,
        redis_namespace: str | None = None,
        storage: pybreaker.CircuitBreakerStorage | None = None,
    ) -> None:
        if fail_max < 1 or success_threshold < 1:
            raise ValueError("fail_max and success_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        if redis is not None and storage is not None:
            raise ValueError("give redis= or storage=, not both")
        self.name = name
        self.reset_timeout = float(reset_timeout)
        self._owned_client: Any = None
        if redis is not None:
            storage = self._redis_storage(redis, redis_namespace or f"kit:breaker:{name}")
        self._storage = storage or pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self.telemetry = StateTelemetry(
            name, logger or nop_logger(), metrics or DiscardProvider(), metrics_namespace
        )
        self.circuit = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            exclude=[is_caller_fault, *exclude],
            listeners=[self.telemetry],
            state_storage=self._storage,
            name=name,
            throw_new_error_on_trip=trip_error,
        )
        self.telemetry.show(self.state)

    def _redis_storage(self, client: Any, namespace: str) -> pybreaker.CircuitRedisStorage:
        if isinstance(client, str):
            import redis as redis_lib

            client = self._owned_client = redis_lib.Redis.from_url(client)
        return pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace=namespace)

    @property
    def state(self) -> str:
        """The current state as kit names it: ``"closed"``, ``"open"`` or ``"half_open"``."""
        return STATES[self.circuit.current_state]

    def calling(self) -> AbstractContextManager[None]:
        """Return a context manager for one call; entering raises Unavailable when open."""
        return _Call(self)

    def retry_after(self) -> float:
        """Seconds until an open circuit lets a trial call through (0 when it already may)."""
        opened = self._storage.opened_at
        if opened is None:
            return self.reset_timeout
        elapsed = (datetime.now(timezone.utc) - opened).total_seconds()
        return round(max(self.reset_timeout - elapsed, 0.0), 3)

    def dispose(self) -> None:
        """Release the Redis connections this breaker opened from a URL (not a client given)."""
        if self._owned_client is not None:
            self._owned_client.close()
            self._owned_client = None

    def __repr__(self) -> str:
        return f"<PyBreaker {self.name!r} {self.state}>"


def _one_call() -> Iterator[None]:
    yield  # the block of ``with breaker.calling():`` runs here


class _Call:
    """One call through pybreaker, with its errors mapped to kit's.

    This is pybreaker's own ``calling()`` protocol, ``circuit.call()`` on a one-yield
    generator, driven directly: without contextlib's wrapper and a second generator it
    costs about 2 us less per call.
    """

    __slots__ = ("_breaker", "_trial")

    def __init__(self, breaker: PyBreaker) -> None:
        self._breaker = breaker
        self._trial: Any = None

    def __enter__(self) -> None:
        breaker = self._breaker
        try:
            trial = breaker.circuit.call(_one_call)
            next(trial)
        except pybreaker.CircuitBreakerError:
            raise Unavailable(
                f"circuit breaker {breaker.name!r} is open",
                details={"retry_after": breaker.retry_after()},
            ) from None
        self._trial = trial

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        trial, self._trial = self._trial, None
        try:
            if exc is None:
                next(trial)  # records a success, then ends
            else:
                trial.throw(exc)  # records the failure (or not), then re-raises exc
        except StopIteration:
            return  # the block succeeded
        except pybreaker.CircuitBreakerError:
            # Only with trip_error: this call's failure opened the circuit.
            breaker = self._breaker
            raise Unavailable(
                f"circuit breaker {breaker.name!r} opened",
                details={"retry_after": breaker.reset_timeout},
            ) from exc
        except BaseException as raised:
            if raised is exc:
                return  # exc propagates from the with block as it is
            raise
        raise RuntimeError("pybreaker's call generator did not stop")  # pragma: no cover
