"""A logging middleware: one line per endpoint call, as Go kit's examples write by hand."""

from __future__ import annotations

from time import perf_counter_ns
from typing import Any

from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import kind
from kitcore.log.duration import format_duration_ns
from kitcore.log.logger import Logger
from kitcore.log.valuer import CallerValuer, caller_frame, format_caller


def logging_middleware(logger: Logger, endpoint_name: str) -> Middleware:
    """Log ``method``, ``err`` (the error kind or None) and ``took`` for every call.

    ``took`` is written as Go writes a duration (``12.5µs``, ``3.2ms``). Failed calls are
    logged at error level, with ``msg`` holding the error's text.

    A ``caller`` in the logger's context names the line that called
    ``logging_middleware`` (the user's wiring, with ``caller_at(depth)``'s depth counted
    from there): when the middleware logs, the code it wraps has returned and the stack
    above holds only the transport.
    """
    # Logger's context is this package's own business: read it rather than widen the API.
    wired = {
        key: format_caller(caller_frame(value.depth))
        for key, value in logger._context.items()
        if isinstance(value, CallerValuer)
    }
    bound = logger.with_(**wired, method=endpoint_name)

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            start = perf_counter_ns()
            try:
                response = await next_(request)
            except BaseException as exc:
                bound.error(
                    err=kind(exc), msg=str(exc), took=format_duration_ns(perf_counter_ns() - start)
                )
                raise
            bound.info(err=None, took=format_duration_ns(perf_counter_ns() - start))
            return response

        return endpoint

    return middleware
