"""PyBreaker in memory: the conformance suite, the coroutine trap, options and telemetry."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pybreaker
import pytest
from kit_pybreaker import PyBreaker

from kitcore.circuitbreaker import circuit_breaker
from kitcore.errors import InvalidArgument, NotFound, Unavailable
from kitcore.log import LogfmtWriter, Logger
from kitcore.metrics import MemoryProvider
from kitcore.testing.breaker import check_breaker


class BackendDown(Exception):
    """A transport failure: counts against the breaker."""


class Backend:
    """An endpoint failing with ``error`` when set, counting the calls that reach it."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: BaseException | None = None

    async def __call__(self, request: Any) -> Any:
        self.calls += 1
        await asyncio.sleep(0)  # a real await, as a remote call has
        if self.error is not None:
            raise self.error
        return request


async def fail(endpoint: Any, times: int, error: type[BaseException] = BackendDown) -> None:
    for _ in range(times):
        with pytest.raises(error):
            await endpoint("x")


async def test_passes_the_breaker_suite() -> None:
    await check_breaker(lambda fail_max, reset: PyBreaker(fail_max=fail_max, reset_timeout=reset))


async def test_passes_the_breaker_suite_raising_unavailable_on_the_tripping_call() -> None:
    await check_breaker(
        lambda fail_max, reset: PyBreaker(fail_max=fail_max, reset_timeout=reset, trip_error=True)
    )


async def test_pybreakers_own_decorator_never_trips_on_a_coroutine_but_the_adapter_does() -> None:
    # The trap this plugin exists for: the decorator records a success as soon as the
    # coroutine object is created, before anything has run.
    naive = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60)

    @naive
    async def decorated() -> None:
        await asyncio.sleep(0)
        raise BackendDown("down")

    for _ in range(5):
        with pytest.raises(BackendDown):
            await decorated()
    assert naive.current_state == pybreaker.STATE_CLOSED
    assert naive.fail_counter == 0

    backend = Backend()
    backend.error = BackendDown("down")
    breaker = PyBreaker(fail_max=2, reset_timeout=60)
    endpoint = circuit_breaker(breaker)(backend)
    await fail(endpoint, 2)
    assert breaker.state == "open"
    with pytest.raises(Unavailable):
        await endpoint("x")
    assert backend.calls == 2


async def test_an_open_circuit_refuses_at_once_with_503_and_retry_after() -> None:
    backend = Backend()
    backend.error = BackendDown("down")
    breaker = PyBreaker("users", fail_max=1, reset_timeout=30)
    endpoint = circuit_breaker(breaker)(backend)
    await fail(endpoint, 1)
    with pytest.raises(Unavailable) as refused:
        await endpoint("x")
    error = refused.value
    assert backend.calls == 1
    assert (error.http_status, error.grpc_code) == (503, 14)
    assert "users" in error.message
    assert 0 < error.details["retry_after"] <= 30


async def test_the_tripping_call_raises_its_own_error_or_unavailable_caused_by_it() -> None:
    backend = Backend()
    backend.error = BackendDown("down")
    await fail(circuit_breaker(PyBreaker(fail_max=1))(backend), 1)

    endpoint = circuit_breaker(PyBreaker(fail_max=1, trip_error=True))(backend)
    with pytest.raises(Unavailable) as tripped:
        await endpoint("x")
    assert tripped.value.__cause__ is backend.error


async def test_caller_faults_never_count_even_without_the_middleware() -> None:
    breaker = PyBreaker(fail_max=2, reset_timeout=60)
    for error in (InvalidArgument("bad"), NotFound("gone"), InvalidArgument("bad")):
        with pytest.raises(type(error)), breaker.calling():
            raise error
    assert breaker.state == "closed"
    assert breaker.circuit.fail_counter == 0


async def test_excluded_errors_by_class_or_predicate_do_not_count() -> None:
    class Busy(Exception):
        pass

    breaker = PyBreaker(
        fail_max=2, exclude=[Busy, lambda exc: isinstance(exc, KeyError) and exc.args == ("k",)]
    )
    backend = Backend()
    endpoint = circuit_breaker(breaker)(backend)
    for error in (Busy(), KeyError("k"), Busy(), KeyError("k")):
        backend.error = error
        await fail(endpoint, 1, type(error))
    assert breaker.state == "closed"
    backend.error = KeyError("other")  # the predicate does not match: a failure
    await fail(endpoint, 2, KeyError)
    assert breaker.state == "open"


async def test_success_threshold_trial_calls_close_the_circuit() -> None:
    backend = Backend()
    breaker = PyBreaker(fail_max=1, reset_timeout=0.05, success_threshold=2)
    endpoint = circuit_breaker(breaker)(backend)
    backend.error = BackendDown("down")
    await fail(endpoint, 1)
    await asyncio.sleep(0.08)
    backend.error = None
    assert await endpoint("trial 1") == "trial 1"
    assert breaker.state == "half_open"
    assert await endpoint("trial 2") == "trial 2"
    assert breaker.state == "closed"


async def test_concurrent_failures_open_the_circuit_once() -> None:
    provider = MemoryProvider()
    backend = Backend()
    backend.error = BackendDown("down")
    breaker = PyBreaker("db", fail_max=3, reset_timeout=60, metrics=provider)
    endpoint = circuit_breaker(breaker)(backend)
    outcomes = await asyncio.gather(*(endpoint(i) for i in range(10)), return_exceptions=True)
    assert all(isinstance(o, BackendDown) for o in outcomes)  # all were in flight together
    assert breaker.state == "open"
    opened = provider.counter_value(
        "kit_circuit_breaker_transitions_total", breaker="db", state="open"
    )
    assert opened == 1


async def test_state_changes_are_logged_and_counted() -> None:
    stream = io.StringIO()
    provider = MemoryProvider()
    breaker = PyBreaker(
        "payments",
        fail_max=2,
        reset_timeout=0.05,
        logger=Logger(LogfmtWriter(stream)),
        metrics=provider,
        metrics_namespace="svc",
    )
    backend = Backend()
    endpoint = circuit_breaker(breaker)(backend)

    def transitions(state: str) -> float:
        return provider.counter_value(
            "svc_circuit_breaker_transitions_total", breaker="payments", state=state
        )

    def gauge() -> float:
        return provider.gauge_value("svc_circuit_breaker_state", breaker="payments")

    assert gauge() == 0
    backend.error = BackendDown("down")
    await fail(endpoint, 2)
    assert (transitions("open"), gauge()) == (1, 2)
    await asyncio.sleep(0.08)
    backend.error = None
    await endpoint("trial")
    assert (transitions("half_open"), transitions("closed"), gauge()) == (1, 1, 0)

    lines = stream.getvalue().splitlines()
    assert lines == [
        'breaker=payments level=warn msg="circuit breaker state changed" state=open '
        "previous=closed",
        'breaker=payments level=info msg="circuit breaker state changed" state=half_open '
        "previous=open",
        'breaker=payments level=info msg="circuit breaker state changed" state=closed '
        "previous=half_open",
    ]


def test_rejects_impossible_options() -> None:
    with pytest.raises(ValueError, match="fail_max"):
        PyBreaker(fail_max=0)
    with pytest.raises(ValueError, match="reset_timeout"):
        PyBreaker(reset_timeout=-1)
    with pytest.raises(ValueError, match="not both"):
        PyBreaker(redis="redis://127.0.0.1:1", storage=pybreaker.CircuitMemoryStorage("closed"))
