"""Conformance suite for tracers: what ``kit_register_tracing``'s contract promises.

The hook's contract is small: a tracer's ``middleware(name)`` returns a server-side
Middleware for the endpoint ``name``. So is this suite: it checks that the middleware
is transparent (the response, the very exception raised, and a cancellation all pass
unchanged; the request context and deadline reach the endpoint; concurrent and nested
calls do not mix), which is what every kit service relies on. What a span holds and how
it is exported is the backend's own matter, for its own tests (no reader protocol
exists for spans yet)::

    async def test_conformance():
        await check_tracer(lambda: MyTracer())
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from kitcore import context
from kitcore.endpoint import Endpoint, Middleware


class Tracer(Protocol):
    """What ``kit_register_tracing``'s factories return."""

    def middleware(self, name: str) -> Middleware:
        """Return a server-side Middleware tracing the endpoint ``name``."""
        ...


class _Failure(Exception):
    """The error the suite's endpoint raises."""


async def _echo(request: Any) -> Any:
    return ("echo", request, context.get("tenant"), context.deadline())


def _wrap(tracer: Tracer, name: str, endpoint: Endpoint) -> Endpoint:
    middleware = tracer.middleware(name)
    if not callable(middleware):
        raise AssertionError(f"middleware({name!r}) returned {middleware!r}, not a Middleware")
    return middleware(endpoint)


async def check_passes_responses_and_context(make_tracer: Callable[[], Tracer]) -> None:
    """Check: the response comes back unchanged; context values and the deadline get through."""
    endpoint = _wrap(make_tracer(), "echo", _echo)
    with context.bind(tenant="t1"), context.timeout(30):
        deadline = context.deadline()
        got = await endpoint({"s": "a"})
    if got != ("echo", {"s": "a"}, "t1", deadline):
        raise AssertionError(f"the traced endpoint returned {got!r}")


async def check_reraises_the_same_error(make_tracer: Callable[[], Tracer]) -> None:
    """Check: the endpoint's exception is re-raised, the same object, not wrapped."""
    raised = _Failure("boom")

    async def failing(request: Any) -> Any:
        raise raised

    endpoint = _wrap(make_tracer(), "failing", failing)
    try:
        await endpoint("x")
    except _Failure as exc:
        if exc is not raised:
            raise AssertionError(f"a copy of the endpoint's error came out: {exc!r}") from exc
    else:
        raise AssertionError("the endpoint's error was swallowed")


async def check_cancellation_passes(make_tracer: Callable[[], Tracer]) -> None:
    """Check: cancelling a traced call cancels the endpoint and ends in CancelledError."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hanging(request: Any) -> Any:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    task = asyncio.ensure_future(_wrap(make_tracer(), "hanging", hanging)("x"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("a cancelled traced call did not end cancelled")
    if not cancelled.is_set():
        raise AssertionError("the endpoint under a cancelled traced call was not cancelled")


async def check_concurrent_and_nested_calls(make_tracer: Callable[[], Tracer]) -> None:
    """Check: concurrent calls each get their own answer; a traced call may call another."""
    tracer = make_tracer()
    inner = _wrap(tracer, "inner", _echo)

    async def outer_endpoint(request: Any) -> Any:
        await asyncio.sleep(0)
        return await inner(request)

    outer = _wrap(tracer, "outer", outer_endpoint)
    results = await asyncio.gather(*(outer(i) for i in range(20)))
    if [r[1] for r in results] != list(range(20)):
        raise AssertionError(f"concurrent traced calls mixed their answers: {results!r}")


async def check_tracer(make_tracer: Callable[[], Tracer]) -> None:
    """Run every tracer check; ``make_tracer()`` builds a fresh tracer."""
    await check_passes_responses_and_context(make_tracer)
    await check_reraises_the_same_error(make_tracer)
    await check_cancellation_passes(make_tracer)
    await check_concurrent_and_nested_calls(make_tracer)
