"""Retry: an Endpoint that calls a Balancer's endpoints until one succeeds.

As Go kit's ``lb.Retry`` / ``lb.RetryWithCallback``: at most ``max_attempts`` attempts
within one overall deadline. Errors that are the caller's fault (invalid argument, not
found...) are raised at once: another instance would answer the same.

Beyond Go kit, a retry goes to an instance the call has not tried yet when the
balancer offers one within a few picks; each attempt may get its own timeout
(``attempt_timeout``, see ``kitcore.lb.attempt``) so that a hung instance costs one
share of the deadline, not all of it; a retry does not start when the time left
cannot cover it; and a ``RetryBudget`` (``kitcore.lb.budget``) caps retries to a share
of the traffic, so an outage does not multiply the load by the attempt count.

The error a caller sees says what happened in general terms (``3 attempt(s) failed:
unavailable``); what each attempt met (internal addresses, client-library errors)
stays on the exception (``errors``, ``str()``) for logs and traces, never on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from kitcore import context
from kitcore.backoff import Backoff
from kitcore.endpoint import Endpoint
from kitcore.errors import ERRORS, DeadlineExceeded, KitError, Unavailable, is_caller_fault
from kitcore.lb.attempt import AttemptTimeout
from kitcore.lb.balancer import Balancer, choices
from kitcore.lb.budget import RetryBudget

Callback = Callable[[int, BaseException], "tuple[bool, BaseException | None]"]
"""``callback(attempt, error) -> (keep_trying, replacement or None)``; attempts count from 1."""


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RetryError(KitError):
    """Every attempt failed: ``.errors`` holds each attempt's error, ``.final`` the last word.

    ``code``, ``http_status``, ``grpc_code`` and ``caller_fault`` are the final error's
    when it is a KitError, else Unavailable's, so transports report the real cause.
    ``message`` (what the wire carries) is generic; ``str()`` has every attempt's detail.
    """

    code = Unavailable.code
    http_status = Unavailable.http_status
    grpc_code = Unavailable.grpc_code

    def __init__(
        self, errors: Sequence[BaseException], final: BaseException, reason: str = ""
    ) -> None:
        attempts = "; ".join(f"attempt {n}: {_describe(e)}" for n, e in enumerate(errors, 1))
        detail = f"{len(errors)} attempt(s) failed: {attempts}"
        if not errors or final is not errors[-1]:
            detail += f"; final: {_describe(final)}"
        if reason:
            detail += f"; {reason}"
        self.errors: tuple[BaseException, ...] = tuple(errors)
        self.final = final
        self.reason = reason
        if isinstance(final, KitError):
            # Instance attributes shadow the class defaults for this error only.
            self.__dict__.update(
                code=final.code,
                http_status=final.http_status,
                grpc_code=final.grpc_code,
                caller_fault=final.caller_fault,
            )
        super().__init__(f"{len(errors)} attempt(s) failed: {self.code.replace('_', ' ')}")
        self.args = (detail,)

    def public(self) -> KitError:
        """The final error as callers outside this process may see it.

        A final error that came off the wire (``remote``: what a server chose to tell
        its callers) is passed on as it is; any other gets its kind with a generic
        message (keeping a ``retry_after`` hint), the rest staying on this exception.
        """
        final = self.final
        if isinstance(final, KitError) and final.remote:
            return final
        kind = type(final) if isinstance(final, KitError) else Unavailable
        message = self.code.replace("_", " ")
        try:
            error = kind(message)
        except TypeError:  # a subclass with its own constructor: fall back to its code's kind
            error = ERRORS.get(self.code, Unavailable)(message)
        retry_after = getattr(final, "details", {}).get("retry_after")
        if retry_after is not None:
            error.details["retry_after"] = retry_after
        return error


def _expired() -> bool:
    left = context.remaining()
    return left is not None and left <= 0


_REPICKS = 2  # extra picks a retry may make to reach an instance this call has not tried


async def _repick(balancer: Balancer, chosen: Endpoint, tried: list[Endpoint]) -> Endpoint:
    # Under concurrent load a shared balancer can hand a retry the very instance that
    # just failed it (round robin's counter moved on by others' calls).
    for _ in range(_REPICKS):
        if chosen not in tried:
            break
        chosen = await balancer.endpoint()
    return chosen


def retry(
    max_attempts: int,
    timeout: float,
    balancer: Balancer,
    callback: Callback | None = None,
    backoff: Backoff | None = None,
    *,
    budget: RetryBudget | None = None,
    attempt_timeout: AttemptTimeout | None = None,
) -> Endpoint:
    """Return an Endpoint trying ``balancer``'s endpoints up to ``max_attempts`` times.

    All attempts share one deadline, ``timeout`` seconds from the call (or the caller's
    earlier deadline), which every callee sees through ``kitcore.context``. A balancer
    error counts as a failed attempt. ``callback`` is called after each failed attempt
    and may stop early or replace the error; ``backoff`` paces the attempts, and when its
    pause would reach the deadline the call fails at once. ``attempt_timeout`` bounds
    each attempt (and refuses a retry the time left cannot cover); ``budget`` pays for
    retries, and one it cannot pay for fails at once with the last error. Raises
    ``RetryError``; its final error is ``DeadlineExceeded`` when the deadline passed
    (or would, in backoff).
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0, got {timeout}")

    # Attempts are timed on the deadline's clock unless the policy brings its own.
    own_clock = attempt_timeout is not None and attempt_timeout.clock is not context.now

    async def endpoint(request: Any) -> Any:
        # Written out rather than split into helpers: this runs on every call, and each
        # Python call and coroutine frame is a measurable share of a fast remote call.
        errors: list[BaseException] = []
        tried: list[Endpoint] = []
        if budget is not None:
            budget.deposit()
        # The loop's clock is the deadline's (context.now()); the loop is looked up once
        # (asyncio.get_running_loop() is a system call on Python 3.10 and 3.11).
        loop = asyncio.get_running_loop()
        now = loop.time()
        token = context.enter_deadline(now + timeout)
        call_deadline = now + timeout if token is not None else context.deadline()
        try:
            for attempt in range(1, max_attempts + 1):
                try:
                    chosen = await balancer.endpoint()
                    attempts_left = max_attempts - attempt + 1
                    if tried:
                        chosen = await _repick(balancer, chosen, tried)
                        if chosen in tried:
                            attempts_left = 1  # as with one instance, below
                    elif choices(balancer) < 2:
                        # One instance: cutting this attempt short could only lead to
                        # another at the same one, still working on this one (say,
                        # overloaded), so it gets the whole deadline.
                        attempts_left = 1
                    tried.append(chosen)
                    if attempt_timeout is None:
                        return await context.enforce(chosen(request))
                    left: float = call_deadline - now  # type: ignore[operator]  # set above
                    start = attempt_timeout.clock() if own_clock else now
                    bound = attempt_timeout.timeout(request, left, attempts_left, start)
                    until = now + bound
                    # The callee still sees the call's deadline (a server is told how
                    # long the caller waits in all); only this attempt's wait is cut
                    # short, and the attempt cancelled. A stall of this process's loop
                    # may push the cut back, never past the call's deadline.
                    scope = context.open_scope(until, call_deadline, loop)
                    cancelled = False
                    try:
                        result = await chosen(request)
                    except asyncio.CancelledError:
                        cancelled = True
                        raise
                    finally:
                        try:
                            context.close_scope(scope, cancelled)
                        except DeadlineExceeded:
                            if bound < left:
                                message = f"attempt timed out after {bound:.3f} s"
                                raise DeadlineExceeded(message) from None
                            raise
                    end = attempt_timeout.clock() if own_clock else loop.time()
                    attempt_timeout.observe(request, end - start, end)
                    return result
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
                delay = backoff.delay(attempt - 1) if backoff is not None else 0.0
                remaining = context.remaining()
                if remaining is not None:
                    if backoff is not None and delay >= remaining:
                        # No attempt could start before the deadline: say so now.
                        deadline = DeadlineExceeded("retry deadline would pass during backoff")
                        raise RetryError(errors, deadline)
                    if attempt_timeout is not None and not attempt_timeout.can_start(
                        request, remaining - delay
                    ):
                        deadline = DeadlineExceeded("the deadline left cannot cover a retry")
                        raise RetryError(errors, deadline)
                if budget is not None and not budget.try_withdraw():
                    raise RetryError(errors, error, "retry budget exhausted")
                if delay:
                    await asyncio.sleep(delay)
                now = loop.time()
        finally:
            context.exit_deadline(token)
        raise AssertionError("unreachable: the loop returns or raises")

    return endpoint


Retry = retry
"""Go kit's spelling of ``retry``."""
