"""Retry: an Endpoint that calls a Balancer's endpoints until one succeeds.

As Go kit's ``lb.Retry`` / ``lb.RetryWithCallback``: at most ``max_attempts`` attempts
within one overall deadline. Errors that are the caller's fault (invalid argument, not
found...) are raised at once: another instance would answer the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from kitcore import context
from kitcore.backoff import Backoff
from kitcore.endpoint import Endpoint
from kitcore.errors import DeadlineExceeded, KitError, Unavailable, is_caller_fault
from kitcore.lb.balancer import Balancer

Callback = Callable[[int, BaseException], "tuple[bool, BaseException | None]"]
"""``callback(attempt, error) -> (keep_trying, replacement or None)``; attempts count from 1."""


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RetryError(KitError):
    """Every attempt failed: ``.errors`` holds each attempt's error, ``.final`` the last word.

    ``code``, ``http_status``, ``grpc_code`` and ``caller_fault`` are the final error's
    when it is a KitError, else Unavailable's, so transports report the real cause.
    """

    code = Unavailable.code
    http_status = Unavailable.http_status
    grpc_code = Unavailable.grpc_code

    def __init__(self, errors: Sequence[BaseException], final: BaseException) -> None:
        attempts = "; ".join(f"attempt {n}: {_describe(e)}" for n, e in enumerate(errors, 1))
        message = f"{len(errors)} attempt(s) failed: {attempts}"
        if not errors or final is not errors[-1]:
            message += f"; final: {_describe(final)}"
        super().__init__(message)
        self.errors: tuple[BaseException, ...] = tuple(errors)
        self.final = final
        if isinstance(final, KitError):
            # Instance attributes shadow the class defaults for this error only.
            self.__dict__.update(
                code=final.code,
                http_status=final.http_status,
                grpc_code=final.grpc_code,
                caller_fault=final.caller_fault,
            )


def _expired() -> bool:
    left = context.remaining()
    return left is not None and left <= 0


async def _attempt(balancer: Balancer, request: Any) -> Any:
    chosen = await balancer.endpoint()
    return await chosen(request)


def retry(
    max_attempts: int,
    timeout: float,
    balancer: Balancer,
    callback: Callback | None = None,
    backoff: Backoff | None = None,
) -> Endpoint:
    """Return an Endpoint trying ``balancer``'s endpoints up to ``max_attempts`` times.

    All attempts share one deadline, ``timeout`` seconds from the call (or the caller's
    earlier deadline), which every callee sees through ``kitcore.context``. A balancer
    error counts as a failed attempt. ``callback`` is called after each failed attempt
    and may stop early or replace the error; ``backoff`` paces the attempts, and when its
    pause would reach the deadline the call fails at once. Raises ``RetryError``; its
    final error is ``DeadlineExceeded`` when the deadline passed (or would, in backoff).
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0, got {timeout}")

    async def endpoint(request: Any) -> Any:
        errors: list[BaseException] = []
        with context.timeout(timeout):
            for attempt in range(1, max_attempts + 1):
                try:
                    # One enforce per attempt: each asyncio timeout scope costs a few us.
                    return await context.enforce(_attempt(balancer, request))
                except Exception as exc:
                    if is_caller_fault(exc):
                        raise
                    errors.append(exc)
                    error: BaseException = exc
                if _expired():
                    if not isinstance(error, DeadlineExceeded):
                        error = DeadlineExceeded("retry deadline exceeded")
                    raise RetryError(errors, error)
                if callback is not None:
                    keep_trying, replacement = callback(attempt, error)
                    error = replacement if replacement is not None else error
                    if not keep_trying:
                        raise RetryError(errors, error)
                if attempt == max_attempts:
                    raise RetryError(errors, error)
                if backoff is not None:
                    delay = backoff.delay(attempt - 1)
                    left = context.remaining()
                    if left is not None and delay >= left:
                        # No attempt could start before the deadline: say so now.
                        deadline = DeadlineExceeded("retry deadline would pass during backoff")
                        raise RetryError(errors, deadline)
                    await asyncio.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    return endpoint


Retry = retry
"""Go kit's spelling of ``retry``."""
