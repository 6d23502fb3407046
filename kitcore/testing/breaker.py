"""Conformance suite for circuit breakers: does a Breaker behave as kit's middleware needs?

A plugin author calls it from a test with a factory building a fresh breaker that
opens after ``fail_max`` consecutive failures and, ``reset_timeout`` seconds later,
lets a trial call through that closes it on one success::

    async def test_conformance():
        await check_breaker(lambda fail_max, reset_timeout: MyBreaker(fail_max, reset_timeout))

Every check goes through :func:`kitcore.circuitbreaker.circuit_breaker`, so the whole
path is tested. The breaker may raise Unavailable instead of the endpoint's error on
the very call that opens the circuit (pybreaker does). A failure raises AssertionError
saying what was expected and what happened. The suite takes about ``5 * reset_timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kitcore import context
from kitcore.circuitbreaker import Breaker, circuit_breaker
from kitcore.errors import DeadlineExceeded, InvalidArgument, NotFound, Unavailable

# Long enough that an open circuit cannot half-open while a check runs.
_LONG = 60.0


class BackendDown(Exception):
    """The failure the suite's endpoint raises: a transport-level error, not the caller's."""


class _Backend:
    """An endpoint whose outcome the suite sets, counting the calls that reach it."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: BaseException | None = None
        self.hang = False
        self.started = asyncio.Event()

    async def __call__(self, request: Any) -> Any:
        self.calls += 1
        if self.hang:
            self.started.set()
            await asyncio.Event().wait()  # until cancelled
        if self.error is not None:
            raise self.error
        return ("ok", request)


class _Harness:
    def __init__(self, breaker: Breaker) -> None:
        self.breaker = breaker
        self.backend = _Backend()
        self.endpoint = circuit_breaker(breaker)(self.backend)

    async def succeed(self, what: str) -> None:
        self.backend.error = None
        before = self.backend.calls
        try:
            response = await self.endpoint(what)
        except Exception as exc:
            raise AssertionError(f"{what}: expected the call to go through, got {exc!r}") from exc
        if self.backend.calls != before + 1 or response != ("ok", what):
            raise AssertionError(f"{what}: the endpoint was not called or its response was lost")

    async def fail(self, what: str, *, may_trip: bool = False) -> None:
        self.backend.error = BackendDown(what)
        before = self.backend.calls
        try:
            await self.endpoint(what)
        except BackendDown:
            pass
        except Unavailable as exc:
            if not may_trip:
                raise AssertionError(f"{what}: expected BackendDown, got {exc!r}") from exc
        except Exception as exc:
            raise AssertionError(f"{what}: expected BackendDown, got {exc!r}") from exc
        else:
            raise AssertionError(f"{what}: the failing endpoint's error was swallowed")
        if self.backend.calls != before + 1:
            raise AssertionError(f"{what}: expected the call to reach the endpoint, it did not")

    async def refused(self, what: str) -> None:
        self.backend.error = None
        before = self.backend.calls
        try:
            await self.endpoint(what)
        except Unavailable:
            pass
        except Exception as exc:
            raise AssertionError(f"{what}: expected Unavailable, got {exc!r}") from exc
        else:
            raise AssertionError(f"{what}: expected the open circuit to refuse the call")
        if self.backend.calls != before:
            raise AssertionError(f"{what}: the open circuit let the call reach the endpoint")

    async def cancelled(self, what: str, deadline: float | None) -> None:
        """A call cancelled while the endpoint works, within ``deadline`` seconds."""
        self.backend.hang, self.backend.error = True, None
        self.backend.started.clear()
        try:
            with context.timeout(deadline):
                call = asyncio.ensure_future(self.endpoint(what))
            await self.backend.started.wait()
            call.cancel()
            try:
                await call
            except asyncio.CancelledError:
                pass
            else:
                raise AssertionError(f"{what}: the cancellation was swallowed")
        finally:
            self.backend.hang = False

    async def timed_out(self, what: str, seconds: float) -> None:
        """A call whose deadline runs out while the endpoint works (enforced outside)."""
        self.backend.hang, self.backend.error = True, None
        try:
            await context.deadline_middleware(seconds)(self.endpoint)(what)
        except (DeadlineExceeded, Unavailable):  # Unavailable: this call opened the circuit
            pass
        except Exception as exc:
            raise AssertionError(f"{what}: expected DeadlineExceeded, got {exc!r}") from exc
        else:
            raise AssertionError(f"{what}: the hanging call returned")
        finally:
            self.backend.hang = False

    async def trip(self, fail_max: int) -> None:
        for i in range(fail_max):
            await self.fail(f"failure {i + 1} of {fail_max}", may_trip=i == fail_max - 1)


async def check_trips_after_fail_max(make_breaker: Callable[[int, float], Breaker]) -> None:
    """Check: successes pass through, fail_max consecutive failures open the circuit."""
    for fail_max in (1, 3):
        harness = _Harness(make_breaker(fail_max, _LONG))
        await harness.succeed("a call through a closed breaker")
        await harness.trip(fail_max)
        await harness.refused(f"a call after {fail_max} consecutive failure(s)")
        await harness.refused("a second call while open")


async def check_caller_faults_never_trip(make_breaker: Callable[[int, float], Breaker]) -> None:
    """Check: caller-fault errors are re-raised unchanged and never count as failures."""
    fail_max = 3
    harness = _Harness(make_breaker(fail_max, _LONG))
    for i in range(fail_max - 1):
        await harness.fail(f"failure {i + 1} before the caller faults")
    for i in range(fail_max * 2):
        error = InvalidArgument("bad request") if i % 2 else NotFound("no such thing")
        harness.backend.error = error
        try:
            await harness.endpoint(f"caller fault {i + 1}")
        except Exception as exc:
            if exc is not error:
                raise AssertionError(
                    f"caller fault {i + 1}: expected {error!r} re-raised unchanged, got {exc!r}"
                ) from exc
        else:
            raise AssertionError(f"caller fault {i + 1}: the error was swallowed")
    await harness.succeed("a call after caller faults (they must not open the circuit)")


async def check_cancellation_counts_only_past_the_deadline(
    make_breaker: Callable[[int, float], Breaker],
) -> None:
    """Check: a call cancelled before its deadline is no failure (its caller went away),
    one cancelled because its deadline ran out is (the instance was too slow)."""
    harness = _Harness(make_breaker(1, _LONG))
    for deadline, how in ((None, "with no deadline"), (_LONG, "before its deadline")):
        await harness.cancelled(f"a call cancelled {how}", deadline)
        await harness.succeed(f"a call after one cancelled {how} (it must not count)")
    await harness.timed_out("a call whose deadline ran out", 0.02)
    await harness.refused("a call after one whose deadline ran out (fail_max=1)")


async def check_half_open_closes_on_success(
    make_breaker: Callable[[int, float], Breaker], reset_timeout: float = 0.1
) -> None:
    """Check: after reset_timeout a trial call goes through, and its success closes the circuit."""
    fail_max = 2
    harness = _Harness(make_breaker(fail_max, reset_timeout))
    await harness.trip(fail_max)
    await harness.refused("a call right after the circuit opened")
    await asyncio.sleep(reset_timeout * 1.5)
    await harness.succeed(f"a trial call {reset_timeout * 1.5:.3f}s after the circuit opened")
    # Closed again: one failure (fewer than fail_max) must not open it.
    await harness.fail("one failure after the circuit closed")
    await harness.succeed("a call after one failure in the closed circuit")


async def check_half_open_reopens_on_failure(
    make_breaker: Callable[[int, float], Breaker], reset_timeout: float = 0.1
) -> None:
    """Check: a failed trial call in the half-open state opens the circuit again."""
    fail_max = 2
    harness = _Harness(make_breaker(fail_max, reset_timeout))
    await harness.trip(fail_max)
    await asyncio.sleep(reset_timeout * 1.5)
    await harness.fail("a failing trial call after the reset timeout", may_trip=True)
    await harness.refused("a call right after the trial call failed")
    await asyncio.sleep(reset_timeout * 1.5)
    await harness.succeed("a trial call after the second reset timeout")


async def check_half_open_admits_one_trial_call(
    make_breaker: Callable[[int, float], Breaker], reset_timeout: float = 0.1
) -> None:
    """Check: half-open, one trial call goes through (gobreaker's default MaxRequests),
    concurrent calls meanwhile are refused at once, and the trial's success closes it."""
    fail_max, concurrent = 2, 10
    harness = _Harness(make_breaker(fail_max, reset_timeout))
    await harness.trip(fail_max)
    await asyncio.sleep(reset_timeout * 1.5)
    backend = harness.backend
    release = asyncio.Event()
    calls_before = backend.calls

    async def slow_trial(request: Any) -> Any:
        backend.calls += 1
        await release.wait()
        return ("ok", request)

    endpoint = circuit_breaker(harness.breaker)(slow_trial)
    calls = [asyncio.ensure_future(endpoint(f"concurrent call {i + 1}")) for i in range(concurrent)]
    try:
        for _ in range(100):  # every call has entered the breaker when none is pending a step
            await asyncio.sleep(0)
        refused = [c for c in calls if c.done() and isinstance(c.exception(), Unavailable)]
        if backend.calls - calls_before != 1 or len(refused) != concurrent - 1:
            raise AssertionError(
                f"{concurrent} concurrent calls half-open: expected 1 trial call to reach the "
                f"endpoint and {concurrent - 1} refused with Unavailable, got "
                f"{backend.calls - calls_before} through and {len(refused)} refused"
            )
        release.set()
        await asyncio.gather(*calls, return_exceptions=True)
    finally:
        release.set()
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
    await harness.succeed("a call after the trial call succeeded (it closed the circuit)")
    await harness.succeed("a second call in the closed circuit")


async def check_breaker(
    make_breaker: Callable[[int, float], Breaker], reset_timeout: float = 0.1
) -> None:
    """Run every breaker check; ``make_breaker(fail_max, reset_timeout)`` builds fresh ones."""
    await check_trips_after_fail_max(make_breaker)
    await check_caller_faults_never_trip(make_breaker)
    await check_cancellation_counts_only_past_the_deadline(make_breaker)
    await check_half_open_closes_on_success(make_breaker, reset_timeout)
    await check_half_open_reopens_on_failure(make_breaker, reset_timeout)
    await check_half_open_admits_one_trial_call(make_breaker, reset_timeout)
