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

import threading
from collections.abc import Callable, Generator, Iterable
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

_Trial: TypeAlias = Generator[None, None, None]


class PyBreaker:
    """A circuit breaker: ``fail_max`` consecutive failures open it for ``reset_timeout`` s.

    Then trial calls go through (half-open), at most ``success_threshold`` at once in
    this process (gobreaker's MaxRequests; pybreaker alone lets every concurrent call
    through): the others are refused at once. ``success_threshold`` successes close it,
    a failure opens it again. Errors matching ``exclude`` (classes or predicates)
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
        self.success_threshold = success_threshold
        self._trials = 0  # half-open trial calls under way in this process
        self._owned_client: Any = None
        if redis is not None:
            storage = self._redis_storage(redis, redis_namespace or f"kit:breaker:{name}")
        # Only state of our own in memory lets calls at rest skip pybreaker (see _Call):
        # Redis state, or a storage given, may be changed behind this breaker's back.
        self._rest: _MemoryStorage | _Shared = _SHARED
        if storage is None:
            storage = self._rest = _MemoryStorage()
        self._storage = storage
        self.telemetry = StateTelemetry(
            name, logger or nop_logger(), metrics or DiscardProvider(), metrics_namespace
        )
        self.circuit = _Circuit(
            self._rest,
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            exclude=[is_caller_fault, *exclude],
            listeners=[self.telemetry],
            state_storage=self._storage,
            name=name,
            throw_new_error_on_trip=trip_error,
        )
        # Records the outcome of a call that entered through the fast path, as pybreaker
        # would have with the closed state it would have entered in (a state object
        # holds no data of its own, and notify=False makes this one change nothing).
        closed = pybreaker.CircuitClosedState(self.circuit)
        self._record_closed: Callable[[_Trial], _Trial]
        self._record_closed = closed.generator_call
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
        call = _Call()  # without an __init__ to run: cheaper than passing self
        call._breaker = self
        return call

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


def _one_call() -> Generator[None, None, None]:
    yield  # the block of ``with breaker.calling():`` runs here


_MEMORY_STATE: property = vars(pybreaker.CircuitMemoryStorage)["state"]


class _MemoryStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's in-memory state, also telling in ``at_rest`` whether it is at rest.

    At rest is closed, with no failure counted and no listener watching single calls:
    a successful call then changes nothing and tells nobody. The flag changes with what
    it depends on, under one lock, so that no thread sees it disagree with them.
    """

    def __init__(self) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._guard = threading.Lock()
        self._watched = False
        self.at_rest = True

    @property
    def state(self) -> str:
        """The current state, in pybreaker's names."""
        return super().state

    @state.setter
    def state(self, state: str) -> None:
        with self._guard:
            _MEMORY_STATE.__set__(self, state)  # super() has no property setters
            self._settle()

    def increment_counter(self) -> None:
        """Count one more failure."""
        with self._guard:
            super().increment_counter()
            self._settle()

    def reset_counter(self) -> None:
        """Forget the failures counted."""
        with self._guard:
            super().reset_counter()
            self._settle()

    def watch(self, watched: bool) -> None:
        """Say whether a listener of the circuit watches single calls."""
        with self._guard:
            self._watched = watched
            self._settle()

    def _settle(self) -> None:
        self.at_rest = (
            not self._watched and self.state == pybreaker.STATE_CLOSED and self.counter == 0
        )


class _Shared:
    """State that others may change (in Redis, or a storage given): never at rest here."""

    at_rest = False

    def watch(self, watched: bool) -> None:
        """Ignored: calls never skip pybreaker anyway."""


_SHARED = _Shared()


class _Circuit(pybreaker.CircuitBreaker):
    """pybreaker's CircuitBreaker, telling its state whether a listener watches calls.

    pybreaker tells its listeners of every call (``before_call``, ``success``), not only
    of state changes; StateTelemetry only wants the latter. While a listener wants the
    former, no call is at rest (see :class:`_Call`).
    """

    def __init__(self, rest: _MemoryStorage | _Shared, **options: Any) -> None:
        self._rest = rest
        super().__init__(**options)
        self._watch()

    def add_listener(self, listener: pybreaker.CircuitBreakerListener) -> None:
        """Register a listener for this circuit breaker."""
        super().add_listener(listener)
        self._watch()

    def remove_listener(self, listener: pybreaker.CircuitBreakerListener) -> None:
        """Unregister a listener of this circuit breaker."""
        super().remove_listener(listener)
        self._watch()

    def _watch(self) -> None:
        self._rest.watch(any(_watches_calls(listener) for listener in self.listeners))


def _watches_calls(listener: object) -> bool:
    for name in ("before_call", "success"):
        method = getattr(listener, name, None)
        if getattr(method, "__func__", None) is not getattr(pybreaker.CircuitBreakerListener, name):
            return True
    return False


class _Call:
    """One call through pybreaker, with its errors mapped to kit's.

    This is pybreaker's own ``calling()`` protocol, ``circuit.call()`` on a one-yield
    generator, driven directly: without contextlib's wrapper and a second generator it
    costs about 2 us less per call.

    Fast path: in a circuit at rest (our own state in memory, closed, no failure
    counted, no listener watching single calls), pybreaker's path for a successful call
    changes nothing and tells nobody: a closed state's before_call and on_success do
    nothing, and the failure count is reset to the 0 it is. So such a call enters
    without pybreaker and, if it succeeds while the circuit is still at rest, leaves
    without it too: about a sixth of the cost. Otherwise (it failed, or meanwhile a
    failure was counted, the state changed or a listener came) its outcome goes through
    a closed state object's ``generator_call``, as it would have had it entered through
    pybreaker, which records a call with the state it entered in. So, as before, a late
    failure counts and may open again (restarting the timer of) a circuit that other
    calls opened meanwhile, and a late success resets the failure count but neither
    closes an open circuit nor counts as a half-open trial. Between threads, a call
    entering without pybreaker's lock may slip in just before another thread changes
    the state, as if it had entered first.
    """

    __slots__ = ("_breaker", "_half_open", "_trial")

    _breaker: PyBreaker
    _trial: _Trial | None
    _half_open: bool

    def __enter__(self) -> None:
        breaker = self._breaker
        self._half_open = False
        if breaker._rest.at_rest:
            self._trial = None
            return
        circuit = breaker.circuit
        if (
            breaker._trials >= breaker.success_threshold
            and circuit.current_state == pybreaker.STATE_HALF_OPEN
        ):
            raise Unavailable(
                f"circuit breaker {breaker.name!r} is half-open: its trial calls are under way",
                details={"retry_after": 0.0},
            )
        try:
            trial = circuit.call(_one_call)
            next(trial)
        except pybreaker.CircuitBreakerError:
            raise Unavailable(
                f"circuit breaker {breaker.name!r} is open",
                details={"retry_after": breaker.retry_after()},
            ) from None
        if circuit.current_state == pybreaker.STATE_HALF_OPEN:  # maybe made so by this call
            self._half_open = True
            breaker._trials += 1
        self._trial = trial

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._half_open:
            self._breaker._trials -= 1
        trial = self._trial
        if trial is None:  # entered at rest, without pybreaker
            breaker = self._breaker
            if exc is None and breaker._rest.at_rest:
                return  # still at rest: nothing to record
            trial = breaker._record_closed(_one_call())
            next(trial)
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
