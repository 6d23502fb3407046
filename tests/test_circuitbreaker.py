from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from kitcore import context
from kitcore.circuitbreaker import ConsecutiveBreaker, circuit_breaker
from kitcore.errors import DeadlineExceeded, InvalidArgument, Unavailable
from kitcore.testing.breaker import check_breaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(breaker: ConsecutiveBreaker, *, fail: bool) -> None:
    with contextlib.suppress(RuntimeError), breaker.calling():
        if fail:
            raise RuntimeError("backend down")


async def test_consecutive_breaker_passes_the_conformance_suite() -> None:
    await check_breaker(lambda fail_max, reset: ConsecutiveBreaker(fail_max, reset))


def test_state_machine_with_a_fake_clock() -> None:
    clock = Clock()
    breaker = ConsecutiveBreaker(fail_max=3, reset_timeout=10, success_threshold=2, clock=clock)
    record(breaker, fail=True)
    record(breaker, fail=True)
    record(breaker, fail=False)  # a success resets the consecutive count
    record(breaker, fail=True)
    record(breaker, fail=True)
    assert breaker.state == "closed"
    record(breaker, fail=True)
    assert breaker.state == "open"
    clock.now += 4
    with pytest.raises(Unavailable) as refused, breaker.calling():
        pass
    assert refused.value.details["retry_after"] == 6.0
    clock.now += 6
    assert breaker.state == "half_open"
    record(breaker, fail=False)
    assert breaker.state == "half_open"  # success_threshold is 2
    record(breaker, fail=False)
    assert breaker.state == "closed"
    for _ in range(3):
        record(breaker, fail=True)
    clock.now += 10
    record(breaker, fail=False)
    record(breaker, fail=True)  # one failure in half-open opens it again
    assert breaker.state == "open"


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        ConsecutiveBreaker(fail_max=0)
    with pytest.raises(ValueError):
        ConsecutiveBreaker(success_threshold=0)
    with pytest.raises(ValueError):
        ConsecutiveBreaker(reset_timeout=-1)


async def test_middleware_reraises_caller_faults_unchanged_and_counts_them_as_success() -> None:
    breaker = ConsecutiveBreaker(fail_max=2, reset_timeout=60)
    fault = InvalidArgument("name is required")
    outcomes: list[BaseException | None] = [RuntimeError("down"), fault, RuntimeError("down")]

    async def endpoint(request: Any) -> Any:
        error = outcomes.pop(0)
        if error is not None:
            raise error
        return request

    guarded = circuit_breaker(breaker)(endpoint)
    with pytest.raises(RuntimeError):
        await guarded(1)
    with pytest.raises(InvalidArgument) as raised:
        await guarded(2)
    assert raised.value is fault
    with pytest.raises(RuntimeError):
        await guarded(3)
    # Two failures, but not consecutive: the caller fault in between was a success.
    assert breaker.state == "closed"


async def test_deadline_exceeded_counts_as_a_failure() -> None:
    breaker = ConsecutiveBreaker(fail_max=1, reset_timeout=60)

    async def slow(request: Any) -> Any:
        return await context.enforce(_never())

    guarded = circuit_breaker(breaker)(slow)
    with context.timeout(0.01), pytest.raises(DeadlineExceeded):
        await guarded("x")
    assert breaker.state == "open"
    with pytest.raises(Unavailable):
        await guarded("x")


async def _never() -> None:
    await asyncio.Event().wait()


class NeverOpens:
    def calling(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class StaysOpen:
    """Opens after fail_max failures and never lets a call through again."""

    def __init__(self, fail_max: int) -> None:
        self.fail_max = fail_max
        self.failures = 0

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        if self.failures >= self.fail_max:
            raise Unavailable("open for good")
        try:
            yield
        except BaseException:  # a cancellation past its deadline counts too
            self.failures += 1
            raise


async def test_the_suite_rejects_a_breaker_that_never_opens() -> None:
    with pytest.raises(AssertionError, match="expected the open circuit to refuse the call"):
        await check_breaker(lambda fail_max, reset: NeverOpens())


async def test_the_suite_rejects_a_breaker_that_never_half_opens() -> None:
    with pytest.raises(AssertionError, match="trial call"):
        await check_breaker(lambda fail_max, reset: StaysOpen(fail_max), reset_timeout=0.02)
