from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kitcore import context
from kitcore.backoff import Backoff
from kitcore.endpoint import Endpoint
from kitcore.errors import (
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    from_wire,
    is_caller_fault,
)
from kitcore.lb import Retry, RetryError, RoundRobin, retry
from kitcore.sd import FixedEndpointer


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


class Scripted:
    """A Balancer whose endpoints fail with the scripted errors, then succeed."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.attempts = 0
        self.remaining_seen: list[float | None] = []

    async def endpoint(self) -> Endpoint:
        async def call(request: Any) -> Any:
            self.attempts += 1
            self.remaining_seen.append(context.remaining())
            if self.errors:
                raise self.errors.pop(0)
            return f"ok:{request}"

        return call


async def test_the_first_success_is_returned() -> None:
    balancer = Scripted()
    assert await retry(3, 1.0, balancer)("x") == "ok:x"
    assert balancer.attempts == 1


async def test_failures_are_retried_until_one_succeeds() -> None:
    balancer = Scripted(Unavailable("a"), ConnectionError("b"))
    assert await retry(3, 1.0, balancer)("x") == "ok:x"
    assert balancer.attempts == 3


async def test_when_every_attempt_fails_retry_error_carries_each_error() -> None:
    errors = [Unavailable("first"), ConnectionError("second"), ResourceExhausted("third")]
    balancer = Scripted(*errors, Unavailable("never reached"))
    with pytest.raises(RetryError) as caught:
        await retry(3, 1.0, balancer)("x")
    error = caught.value
    assert balancer.attempts == 3
    assert list(error.errors) == errors
    assert error.final is errors[-1]
    assert (error.code, error.http_status, error.grpc_code) == ("resource_exhausted", 429, 8)
    assert isinstance(from_wire(error.to_wire()), ResourceExhausted)
    assert "attempt 1: Unavailable: first" in str(error)
    assert "attempt 2: ConnectionError: second" in str(error)
    assert "attempt 3: ResourceExhausted: third" in str(error)


async def test_a_final_error_outside_the_taxonomy_reports_unavailable() -> None:
    with pytest.raises(RetryError) as caught:
        await retry(1, 1.0, Scripted(OSError("boom")))("x")
    error = caught.value
    assert (error.code, error.http_status, error.grpc_code) == ("unavailable", 503, 14)
    assert not is_caller_fault(error)
    # The class keeps its defaults whatever one instance says.
    assert RetryError.code == "unavailable"


async def test_caller_fault_errors_are_raised_unchanged_and_not_retried() -> None:
    not_found = NotFound("no such user")
    balancer = Scripted(Unavailable("transient"), not_found)
    with pytest.raises(NotFound) as caught:
        await retry(5, 1.0, balancer)("x")
    assert caught.value is not_found
    assert balancer.attempts == 2


async def test_a_balancer_error_counts_as_a_failed_attempt() -> None:
    balancer = RoundRobin(FixedEndpointer([]))
    with pytest.raises(RetryError) as caught:
        await retry(3, 1.0, balancer)("x")
    assert [str(e) for e in caught.value.errors] == ["no endpoints available"] * 3


async def test_the_overall_deadline_ends_the_attempts_with_deadline_exceeded() -> None:
    calls = 0

    async def hangs(request: Any) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()

    with pytest.raises(RetryError) as caught:
        await retry(5, 0.03, RoundRobin(FixedEndpointer([hangs])))("x")
    assert calls == 1
    assert isinstance(caught.value.final, DeadlineExceeded)
    assert isinstance(caught.value.errors[-1], DeadlineExceeded)
    assert caught.value.code == "deadline_exceeded"
    assert caught.value.http_status == 504


async def test_every_attempt_sees_the_overall_deadline() -> None:
    balancer = Scripted(Unavailable("a"))
    await retry(2, 5.0, balancer)("x")
    assert all(r is not None and 0 < r <= 5.0 for r in balancer.remaining_seen)
    assert balancer.remaining_seen[1] <= balancer.remaining_seen[0]  # type: ignore[operator]


async def test_an_earlier_caller_deadline_is_never_extended() -> None:
    balancer = Scripted()
    with context.timeout(0.5):
        await retry(2, 60.0, balancer)("x")
    seen = balancer.remaining_seen[0]
    assert seen is not None and seen <= 0.5


async def test_a_callee_deadline_error_is_retried_while_time_remains() -> None:
    balancer = Scripted(DeadlineExceeded("callee's own short deadline"))
    assert await retry(2, 5.0, balancer)("x") == "ok:x"
    assert balancer.attempts == 2


async def test_the_callback_sees_each_attempt_and_may_stop_early() -> None:
    seen: list[tuple[int, str]] = []

    def callback(attempt: int, error: BaseException) -> tuple[bool, BaseException | None]:
        seen.append((attempt, str(error)))
        return attempt < 2, None

    balancer = Scripted(Unavailable("a"), Unavailable("b"), Unavailable("c"))
    with pytest.raises(RetryError) as caught:
        await retry(10, 1.0, balancer, callback=callback)("x")
    assert seen == [(1, "a"), (2, "b")]
    assert balancer.attempts == 2
    assert str(caught.value.final) == "b"


async def test_the_callback_may_replace_the_final_error() -> None:
    raw = [Unavailable("a"), Unavailable("b")]
    replacement = InvalidArgument("give up: bad input")

    def callback(attempt: int, error: BaseException) -> tuple[bool, BaseException | None]:
        return True, (replacement if attempt == 2 else None)

    with pytest.raises(RetryError) as caught:
        await retry(2, 1.0, Scripted(*raw), callback=callback)("x")
    assert caught.value.final is replacement
    assert list(caught.value.errors) == raw
    assert caught.value.code == "invalid_argument"
    assert is_caller_fault(caught.value)
    assert "final: InvalidArgument: give up: bad input" in str(caught.value)


@dataclass(frozen=True)
class RecordingBackoff(Backoff):
    """A Backoff that records which attempt numbers it was asked about."""

    asked: list[int] = field(default_factory=list, compare=False)

    def delay(self, attempt: int) -> float:
        self.asked.append(attempt)
        return super().delay(attempt)


async def test_backoff_paces_the_attempts() -> None:
    backoff = RecordingBackoff(base=0.001, jitter=False)
    balancer = Scripted(Unavailable("a"), Unavailable("b"), Unavailable("c"))
    with pytest.raises(RetryError):
        await retry(3, 1.0, balancer, backoff=backoff)("x")
    assert backoff.asked == [0, 1]  # before the second and the third attempt


async def test_a_backoff_reaching_the_deadline_fails_at_once() -> None:
    balancer = Scripted(*[Unavailable(str(n)) for n in range(10)])
    endpoint = retry(10, 30.0, balancer, backoff=Backoff(base=60.0, cap=60.0, jitter=False))
    with pytest.raises(RetryError) as caught:
        await asyncio.wait_for(endpoint("x"), 5.0)
    assert isinstance(caught.value.final, DeadlineExceeded)
    assert [str(e) for e in caught.value.errors] == ["0"]
    assert balancer.attempts == 1


async def test_cancellation_is_not_retried() -> None:
    started = asyncio.Event()

    async def hangs(request: Any) -> Any:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(retry(5, 10.0, RoundRobin(FixedEndpointer([hangs])))("x"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        retry(0, 1.0, Scripted())
    with pytest.raises(ValueError, match="timeout"):
        retry(1, 0, Scripted())


def test_retry_has_go_kits_spelling_too() -> None:
    assert Retry is retry


# Per-attempt timeouts, budgets and the public message (issue 9 defects 2 and 5).

from kitcore.lb import AttemptTimeout, RetryBudget  # noqa: E402
from kitcore.testing.lb import Fleet  # noqa: E402


async def test_a_hung_instance_costs_one_share_of_the_deadline_and_the_retry_succeeds() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        fleet["a:1"].hung = True
        call = retry(2, 0.5, RoundRobin(fleet.endpointer), attempt_timeout=AttemptTimeout())
        assert await call("x") == "b:2"  # a:1 first, cut at half the deadline, then b:2
        assert fleet["a:1"].calls == 1 and fleet["a:1"].cancelled == 1


async def test_a_stall_of_the_callers_own_loop_does_not_cut_a_healthy_attempt() -> None:
    # A full collection of a big heap held the client's loop for 60-80 ms, past the
    # learnt 50 ms bound: the healthy instance's answer was cut and retried elsewhere.
    async with Fleet("a:1", "b:2") as fleet:
        policy = AttemptTimeout(floor=0.05, min_samples=1)
        policy.observe("x", 0.001)  # learnt: these calls take a millisecond
        call = retry(2, 5.0, RoundRobin(fleet.endpointer), attempt_timeout=policy)
        fleet["a:1"].hung = True  # until its answer comes in, 10 ms from now
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, fleet["a:1"].release)
        loop.call_later(0.005, time.sleep, 0.1)  # the loop held up from 5 to 105 ms
        assert await call("x") == "a:1"
        assert (fleet["a:1"].cancelled, fleet["b:2"].calls) == (0, 0)  # no retry was needed


async def test_without_attempt_timeouts_a_hung_instance_spends_the_whole_deadline() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        fleet["a:1"].hung = True
        with pytest.raises(RetryError) as caught:
            await retry(2, 0.05, RoundRobin(fleet.endpointer))("x")
        assert isinstance(caught.value.final, DeadlineExceeded)
        assert fleet["b:2"].calls == 0


async def test_each_attempt_gets_its_share_and_the_last_gets_the_rest() -> None:
    policy = AttemptTimeout()
    assert policy.timeout(None, 9.0, 3) == 3.0
    assert policy.timeout(None, 6.0, 2) == 3.0
    assert policy.timeout(None, 2.5, 1) == 2.5


async def test_observed_latency_bounds_the_attempt_once_learnt() -> None:
    policy = AttemptTimeout(multiplier=3.0, quantile=0.99, floor=0.01, min_samples=20)
    for _ in range(100):
        policy.observe(None, 0.010)
    bound = policy.timeout(None, 9.0, 3)
    assert 0.03 <= bound <= 0.034  # 3 x p99 (10 ms, within a bucket), not 3 s
    assert policy.timeout(None, 0.02, 2) == 0.01  # the share is shorter still
    assert not policy.can_start(None, 0.005)  # under the median: a retry cannot fit
    assert policy.can_start(None, 0.02)


async def test_a_retry_the_deadline_cannot_cover_is_not_started() -> None:
    policy = AttemptTimeout(min_samples=1)
    policy.observe("x", 10.0)  # this method takes ten seconds
    balancer = Scripted(Unavailable("first"))
    with pytest.raises(RetryError) as caught:
        await retry(3, 1.0, balancer, attempt_timeout=policy)("x")
    assert balancer.attempts == 1
    assert isinstance(caught.value.final, DeadlineExceeded)
    assert "cannot cover a retry" in str(caught.value.final)


async def test_retries_beyond_the_budget_fail_at_once_with_the_last_error() -> None:
    budget = RetryBudget(min_retries_per_second=0, percent_can_retry=0.5)
    budget.deposit()
    budget.deposit()  # pays for one retry
    down = Unavailable("down")
    balancer = Scripted(*[down] * 10)
    call = retry(5, 1.0, balancer, budget=budget)
    with pytest.raises(RetryError) as caught:
        await call("x")
    # The call's own deposit plus the two above: one retry, then the budget is spent.
    assert balancer.attempts == 2
    assert caught.value.final is down
    assert caught.value.reason == "retry budget exhausted"


async def test_callers_get_a_generic_message_and_the_detail_stays_on_the_exception() -> None:
    leaky = Unavailable("POST http://10.0.0.7:18302/uppercase: ClientConnectorError: refused")
    with pytest.raises(RetryError) as caught:
        await retry(2, 1.0, Scripted(leaky, leaky))("x")
    error = caught.value
    assert "10.0.0.7" not in error.message
    assert "10.0.0.7" not in str(error.to_wire())
    assert "10.0.0.7" in str(error)  # for the log and the trace
    public = error.public()
    assert type(public) is Unavailable
    assert "10.0.0.7" not in public.message and "10.0.0.7" not in str(public)


async def test_the_public_error_keeps_retry_after() -> None:
    limited = ResourceExhausted("limited at 10.0.0.7", retry_after=2.5)
    with pytest.raises(RetryError) as caught:
        await retry(1, 1.0, Scripted(limited))("x")
    public = caught.value.public()
    assert isinstance(public, ResourceExhausted) and public.retry_after == 2.5
    assert "10.0.0.7" not in public.message


async def test_cancelling_a_call_cancels_its_attempt_and_counts_nothing() -> None:
    async with Fleet("a:1") as fleet:
        fleet["a:1"].hung = True
        budget = RetryBudget(min_retries_per_second=0)
        policy = AttemptTimeout()
        call = asyncio.ensure_future(
            retry(3, 5.0, RoundRobin(fleet.endpointer), budget=budget, attempt_timeout=policy)("x")
        )
        await fleet.until(lambda: fleet["a:1"].in_flight > 0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert fleet["a:1"].cancelled == 1 and fleet["a:1"].calls == 1


async def test_instances_leaving_and_joining_mid_flight_under_concurrent_calls() -> None:
    async with Fleet("a:1", "b:2") as fleet:
        fleet["a:1"].hung = True
        call = retry(3, 5.0, RoundRobin(fleet.endpointer), attempt_timeout=AttemptTimeout())
        first = [asyncio.ensure_future(call(i)) for i in range(20)]
        await fleet.until(lambda: fleet["a:1"].in_flight > 0)
        await fleet.remove("a:1")  # leaves with calls hung on it
        await fleet.add("c:3")
        second = [asyncio.ensure_future(call(i)) for i in range(20)]
        fleet["a:1"].release()  # the removed instance answers its hung calls at last
        answers = await asyncio.gather(*first, *second)
        assert set(answers) <= {"a:1", "b:2", "c:3"}
        assert {"b:2", "c:3"} <= set(answers[20:])
        assert "a:1" not in answers[20:]
        assert fleet["a:1"].closed
