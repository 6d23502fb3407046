"""PyBreaker's fast path: calls through a circuit at rest skip pybreaker, and nothing else changes.

A circuit at rest (state in memory, closed, no failure counted) lets a call enter and
leave without pybreaker; anything else goes through pybreaker as before. These tests
pin what must not change: overlapping calls, state cycles with their telemetry,
listeners watching calls, and, over random interleavings, the very same outcomes as a
breaker whose state pybreaker handles on every call.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pybreaker
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kit_pybreaker import PyBreaker

from kitcore.circuitbreaker import circuit_breaker
from kitcore.errors import InvalidArgument, Unavailable
from kitcore.log import LogfmtWriter, Logger
from kitcore.metrics import MemoryProvider


class BackendDown(Exception):
    """A transport failure: counts against the breaker."""


class Busy(Exception):
    """An error the breakers under test are told to exclude."""


def fail(breaker: PyBreaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(BackendDown), breaker.calling():
            raise BackendDown("down")


def succeed(breaker: PyBreaker) -> None:
    with breaker.calling():
        pass


def refused(breaker: PyBreaker) -> bool:
    try:
        succeed(breaker)
    except Unavailable:
        return True
    return False


def opened(provider: MemoryProvider, name: str = "db") -> float:
    return provider.counter_value(
        "kit_circuit_breaker_transitions_total", breaker=name, state="open"
    )


def test_a_call_entered_while_closed_failing_after_others_opened_it_counts_and_keeps_it_open() -> (
    None
):
    provider = MemoryProvider()
    breaker = PyBreaker("db", fail_max=2, reset_timeout=60, metrics=provider)
    with pytest.raises(BackendDown), breaker.calling():  # entered while closed, at rest
        fail(breaker, 2)
        assert breaker.state == "open"
        raise BackendDown("late")
    # Recorded as pybreaker records a call that entered closed: one more failure, which
    # opens the open circuit again (restarting its timer) without a second transition.
    assert breaker.state == "open"
    assert breaker.circuit.fail_counter == 3
    assert opened(provider) == 1
    assert refused(breaker)


def test_a_call_entered_while_closed_succeeding_after_others_opened_it_leaves_it_open() -> None:
    breaker = PyBreaker(fail_max=1, reset_timeout=60)
    with breaker.calling():
        fail(breaker)
        assert breaker.state == "open"
    assert breaker.state == "open"
    assert refused(breaker)


def test_a_success_resets_the_failures_counted_while_it_ran() -> None:
    breaker = PyBreaker(fail_max=2, reset_timeout=60)
    with breaker.calling():
        fail(breaker)
        assert breaker.circuit.fail_counter == 1
    assert breaker.circuit.fail_counter == 0  # failures must be consecutive to count
    fail(breaker)
    assert breaker.state == "closed"
    fail(breaker)
    assert breaker.state == "open"


def test_a_call_entered_while_closed_is_no_half_open_trial() -> None:
    breaker = PyBreaker(fail_max=1, reset_timeout=0, success_threshold=2)
    early: Any = breaker.calling()
    early.__enter__()  # while closed
    fail(breaker)
    with breaker.calling():  # the timeout (0) has passed: a trial call
        assert breaker.state == "half_open"
        early.__exit__(None, None, None)  # succeeds while the trial runs
        assert breaker.circuit.success_counter == 0
    assert (breaker.state, breaker.circuit.success_counter) == ("half_open", 1)
    succeed(breaker)
    assert breaker.state == "closed"


async def test_the_circuit_goes_round_its_states_twice_with_telemetry() -> None:
    stream = io.StringIO()
    provider = MemoryProvider()
    breaker = PyBreaker(
        "db",
        fail_max=2,
        reset_timeout=0,
        logger=Logger(LogfmtWriter(stream)),
        metrics=provider,
    )
    error: BaseException | None = None

    async def backend(request: Any) -> Any:
        await asyncio.sleep(0)
        if error is not None:
            raise error
        return request

    endpoint = circuit_breaker(breaker)(backend)
    for _ in range(2):
        for _ in range(3):
            assert await endpoint("ok") == "ok"
        error = BackendDown("down")
        for _ in range(2):
            with pytest.raises(BackendDown):
                await endpoint("x")
        assert breaker.state == "open"
        error = None
        assert await endpoint("trial") == "trial"  # reset_timeout 0: half-open at once
        assert breaker.state == "closed"
    counts = {
        state: provider.counter_value(
            "kit_circuit_breaker_transitions_total", breaker="db", state=state
        )
        for state in ("open", "half_open", "closed")
    }
    assert counts == {"open": 2, "half_open": 2, "closed": 2}
    assert provider.gauge_value("kit_circuit_breaker_state", breaker="db") == 0
    states = [line.split("state=")[1].split()[0] for line in stream.getvalue().splitlines()]
    assert states == ["open", "half_open", "closed"] * 2


class Counting(pybreaker.CircuitBreakerListener):
    """A listener watching every call, as pybreaker lets listeners do."""

    def __init__(self) -> None:
        self.before = self.successes = self.failures = 0

    def before_call(self, cb: pybreaker.CircuitBreaker, func: Any, *args: Any, **kw: Any) -> None:
        self.before += 1

    def success(self, cb: pybreaker.CircuitBreaker) -> None:
        self.successes += 1

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self.failures += 1


def test_a_listener_added_to_the_circuit_sees_every_call_until_removed() -> None:
    breaker = PyBreaker(fail_max=5)
    listener = Counting()
    breaker.circuit.add_listener(listener)
    for _ in range(3):
        succeed(breaker)
    fail(breaker)
    succeed(breaker)
    with pytest.raises(InvalidArgument), breaker.calling():
        raise InvalidArgument("the caller's fault: a success")
    assert (listener.before, listener.successes, listener.failures) == (6, 5, 1)
    breaker.circuit.remove_listener(listener)
    succeed(breaker)
    fail(breaker)
    assert (listener.before, listener.successes, listener.failures) == (6, 5, 1)


def entered_without_pybreaker(breaker: PyBreaker) -> bool:
    call: Any = breaker.calling()
    call.__enter__()
    try:
        return call._trial is None  # white box: the fast path keeps no pybreaker trial
    finally:
        call.__exit__(None, None, None)


def test_only_calls_at_rest_with_no_listener_watching_calls_skip_pybreaker() -> None:
    breaker = PyBreaker(fail_max=3)
    assert entered_without_pybreaker(breaker)
    fail(breaker)
    assert not entered_without_pybreaker(breaker)  # a failure is counted
    assert entered_without_pybreaker(breaker)  # that success reset the count
    listener = Counting()
    breaker.circuit.add_listener(listener)
    assert not entered_without_pybreaker(breaker)
    breaker.circuit.remove_listener(listener)
    breaker.circuit.add_listener(pybreaker.CircuitBreakerListener())  # watches no call
    assert entered_without_pybreaker(breaker)
    shared = PyBreaker(storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))
    assert not entered_without_pybreaker(shared)  # a storage given: others may change it


# Random interleavings of overlapping calls, each ending in a success, a failure, a
# caller fault or an excluded error, must give the same outcomes, states, counters,
# metrics and log lines with the fast path as with pybreaker handling every call (a
# storage given turns the fast path off).

OUTCOMES = {
    "ok": lambda: None,
    "down": lambda: BackendDown("down"),
    "caller": lambda: InvalidArgument("bad"),
    "busy": lambda: Busy(),
}

steps = st.lists(
    st.tuples(
        st.sampled_from(["enter", "leave"]), st.integers(0, 7), st.sampled_from(list(OUTCOMES))
    ),
    max_size=40,
)


def leave(call: Any, outcome: str) -> object:
    error = OUTCOMES[outcome]()
    try:
        call.__exit__(None if error is None else type(error), error, None)
    except Unavailable as exc:
        return ("unavailable", exc.__cause__ is error)
    return "left"


def play(breaker: PyBreaker, script: list[tuple[str, int, str]]) -> list[object]:
    trace: list[object] = []
    running: list[Any] = []
    for action, pick, outcome in [*script, *[("leave", 0, "ok")] * len(script)]:
        if action == "leave" and running:
            trace.append(leave(running.pop(pick % len(running)), outcome))
        elif action == "enter":
            call = breaker.calling()
            try:
                call.__enter__()
            except Unavailable:
                trace.append("refused")
            else:
                running.append(call)
                trace.append("entered")
        circuit = breaker.circuit
        trace.append((breaker.state, circuit.fail_counter, circuit.success_counter))
    return trace


@settings(max_examples=300, deadline=None)
@given(
    script=steps,
    fail_max=st.integers(1, 3),
    success_threshold=st.integers(1, 2),
    reset_timeout=st.sampled_from([0, 60]),
    trip_error=st.booleans(),
)
def test_the_fast_path_changes_no_outcome(
    script: list[tuple[str, int, str]],
    fail_max: int,
    success_threshold: int,
    reset_timeout: float,
    trip_error: bool,
) -> None:
    def run(storage: pybreaker.CircuitBreakerStorage | None) -> tuple[object, ...]:
        stream = io.StringIO()
        provider = MemoryProvider()
        breaker = PyBreaker(
            "db",
            fail_max=fail_max,
            success_threshold=success_threshold,
            reset_timeout=reset_timeout,
            trip_error=trip_error,
            exclude=[Busy],
            logger=Logger(LogfmtWriter(stream)),
            metrics=provider,
            storage=storage,
        )
        trace = play(breaker, script)
        transitions = [
            provider.counter_value(
                "kit_circuit_breaker_transitions_total", breaker="db", state=state
            )
            for state in ("open", "half_open", "closed")
        ]
        gauge = provider.gauge_value("kit_circuit_breaker_state", breaker="db")
        return trace, transitions, gauge, stream.getvalue()

    fast = run(None)
    assert fast == run(pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))
