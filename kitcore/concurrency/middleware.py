"""concurrency_limit: the Endpoint middleware that sheds calls over a Limiter's limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kitcore import context
from kitcore.concurrency.limiter import Limiter, Permit
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import DeadlineExceeded, is_caller_fault

_TIMER_SLACK = 0.001
"""Seconds a deadline's timer may fire early (loop clock resolution): still its deadline."""


def concurrency_limit(limiter: Limiter) -> Middleware:
    """Return a Middleware raising ``Overloaded`` at once for calls over ``limiter``'s limit.

    An admitted call that succeeds, or fails by the caller's fault, is a latency sample;
    one that times out (DeadlineExceeded, or cancelled once its deadline passed) is a
    drop; any other failure or cancellation is ignored. On kit-http, prefer
    ``kit_http.admission.Admission``, which refuses before the body is read and decoded.
    """

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            permit = limiter.acquire()
            if permit is None:
                raise limiter.overloaded()
            try:
                result = await next_(request)
            except DeadlineExceeded:
                permit.dropped()
                raise
            except asyncio.CancelledError:
                end_cancelled(permit)
                raise
            except Exception as exc:
                if is_caller_fault(exc):
                    permit.success()
                else:
                    permit.ignore()
                raise
            permit.success()
            return result

        return endpoint

    return middleware


def end_cancelled(
    permit: Permit, remaining: Callable[[], float | None] = context.remaining
) -> None:
    """End the permit of a cancelled call: dropped when its deadline passed, else ignored.

    ``remaining()`` says the seconds the call has left: the ``kitcore.context``
    deadline's by default, or a transport's own count (gRPC's ``time_remaining``).
    """
    left = remaining()
    if left is not None and left <= _TIMER_SLACK:
        permit.dropped()
    else:
        permit.ignore()
