"""Conformance suites for rate limiters: Allowers and Waiters as kit's middlewares use them.

A plugin author calls them from a test with a factory building a fresh, full limiter
of ``rate`` tokens per second holding at most ``burst``::

    async def test_conformance():
        await check_allower(lambda rate, burst: MyLimiter(rate, burst))
        await check_waiter(lambda rate, burst: MyLimiter(rate, burst))

Every check goes through :func:`kitcore.ratelimit.erroring_limiter` or
:func:`kitcore.ratelimit.delaying_limiter`. Waits are checked from below only (a token
cannot come early); a wait that is too long shows up as ResourceExhausted from a
generous ``max_delay``. A failure raises AssertionError saying what went wrong. Each
suite takes well under a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kitcore import context
from kitcore.endpoint import Endpoint
from kitcore.errors import ResourceExhausted
from kitcore.ratelimit import Allower, Waiter, delaying_limiter, erroring_limiter


class _Backend:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: Any) -> Any:
        self.calls += 1
        return request


async def _passes(endpoint: Endpoint, backend: _Backend, what: str) -> None:
    before = backend.calls
    try:
        response = await endpoint(what)
    except Exception as exc:
        raise AssertionError(f"{what}: expected the call to go through, got {exc!r}") from exc
    if backend.calls != before + 1 or response != what:
        raise AssertionError(f"{what}: the endpoint was not called or its response was lost")


async def _limited(endpoint: Endpoint, backend: _Backend, what: str) -> None:
    before = backend.calls
    try:
        await endpoint(what)
    except ResourceExhausted:
        pass
    except Exception as exc:
        raise AssertionError(f"{what}: expected ResourceExhausted, got {exc!r}") from exc
    else:
        raise AssertionError(f"{what}: expected ResourceExhausted, the call went through")
    if backend.calls != before:
        raise AssertionError(f"{what}: the limited call still reached the endpoint")


async def check_allower_burst(make_allower: Callable[[float, int], Allower]) -> None:
    """Check: ``burst`` calls are allowed at once, the next ones are refused."""
    backend = _Backend()
    # One token every two seconds: none comes back while the check runs.
    endpoint = erroring_limiter(make_allower(0.5, 3))(backend)
    for i in range(3):
        await _passes(endpoint, backend, f"call {i + 1} of a burst of 3")
    await _limited(endpoint, backend, "call 4 after a burst of 3")
    await _limited(endpoint, backend, "call 5 after a burst of 3")


async def check_allower_refills(make_allower: Callable[[float, int], Allower]) -> None:
    """Check: a refused call is allowed again once ``1 / rate`` seconds have passed."""
    rate = 10.0
    backend = _Backend()
    endpoint = erroring_limiter(make_allower(rate, 1))(backend)
    await _passes(endpoint, backend, "the first call")
    await _limited(endpoint, backend, "a second call at once")
    await asyncio.sleep(1.5 / rate)
    await _passes(endpoint, backend, f"a call {1.5 / rate:.2f}s later")
    await _limited(endpoint, backend, "another call at once")


async def check_allower(make_allower: Callable[[float, int], Allower]) -> None:
    """Run every Allower check; ``make_allower(rate, burst)`` builds fresh, full limiters."""
    await check_allower_burst(make_allower)
    await check_allower_refills(make_allower)


async def check_waiter_timeout(make_waiter: Callable[[float, int], Waiter]) -> None:
    """Check: ``burst`` calls go at once; a wait longer than the timeout or deadline fails."""
    backend = _Backend()
    waiter = make_waiter(0.5, 2)  # the third token is two seconds away
    endpoint = delaying_limiter(waiter, max_delay=0.05)(backend)
    for i in range(2):
        await _passes(endpoint, backend, f"call {i + 1} of a burst of 2 (max_delay 0.05s)")
    await _limited(endpoint, backend, "call 3 needing 2s with max_delay 0.05s")
    unbounded = delaying_limiter(waiter)(backend)
    with context.timeout(0.05):
        await _limited(unbounded, backend, "call 3 needing 2s with a deadline 0.05s away")


async def check_waiter_waits(make_waiter: Callable[[float, int], Waiter]) -> None:
    """Check: a call beyond the burst waits about ``1 / rate`` and then goes through."""
    rate = 10.0
    backend = _Backend()
    endpoint = delaying_limiter(make_waiter(rate, 1), max_delay=2.0)(backend)
    start = time.monotonic()
    await _passes(endpoint, backend, "the first call")
    await _passes(endpoint, backend, "a second call that must wait for a token")
    waited = time.monotonic() - start
    if waited < 0.9 / rate:
        raise AssertionError(
            f"the second call went through after {waited:.3f}s; its token is due after {1 / rate}s"
        )


async def check_waiter_queues(make_waiter: Callable[[float, int], Waiter]) -> None:
    """Check: concurrent waiters each get their own token, one ``1 / rate`` after another."""
    rate = 20.0
    count = 4
    backend = _Backend()
    endpoint = delaying_limiter(make_waiter(rate, 1), max_delay=2.0)(backend)
    start = time.monotonic()
    requests = [f"concurrent call {i + 1} of {count}" for i in range(count)]
    outcomes = await asyncio.gather(
        *(endpoint(request) for request in requests),
        return_exceptions=True,  # let every call finish before reporting the first failure
    )
    for request, outcome in zip(requests, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            raise AssertionError(f"{request}: expected it to go through, got {outcome!r}")
        if outcome != request:
            raise AssertionError(f"{request}: its response was lost")
    if backend.calls != count:
        raise AssertionError(f"{count} concurrent calls reached the endpoint {backend.calls} times")
    waited = time.monotonic() - start
    due = (count - 1) / rate
    if waited < 0.9 * due:
        raise AssertionError(
            f"{count} concurrent calls finished after {waited:.3f}s; the last token is due "
            f"after {due:.3f}s, so some calls shared a token"
        )


async def check_waiter(make_waiter: Callable[[float, int], Waiter]) -> None:
    """Run every Waiter check; ``make_waiter(rate, burst)`` builds fresh, full limiters."""
    await check_waiter_timeout(make_waiter)
    await check_waiter_waits(make_waiter)
    await check_waiter_queues(make_waiter)
