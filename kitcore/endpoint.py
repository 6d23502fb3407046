"""Endpoint: one RPC as an async callable, and Middleware: a function wrapping one.

Everything in kit composes around these two types, as in Go kit's ``endpoint``
package: transports turn wire requests into calls to an Endpoint, clients turn an
Endpoint call into a wire request, and every cross-cutting concern (logging, metrics,
tracing, breaking, limiting) is a Middleware.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

Endpoint: TypeAlias = Callable[[Any], Awaitable[Any]]
"""One RPC: ``async def endpoint(request) -> response``; errors are raised."""

Middleware: TypeAlias = Callable[[Endpoint], Endpoint]
"""A function that wraps an Endpoint in another Endpoint."""


def chain(outer: Middleware, *others: Middleware) -> Middleware:
    """Compose middlewares into one; the first is the outermost (runs first)."""
    middlewares = (outer, *others)

    def chained(endpoint: Endpoint) -> Endpoint:
        for middleware in reversed(middlewares):
            endpoint = middleware(endpoint)
        return endpoint

    return chained


async def nop(request: Any) -> Any:
    """An Endpoint that does nothing and returns None."""
    return None


def from_sync(func: Callable[[Any], Any]) -> Endpoint:
    """Adapt a blocking ``func(request) -> response`` into an Endpoint run in a thread pool.

    The caller's context (deadline, request values) is copied into the worker thread.
    """

    import asyncio  # deferred: importing asyncio would double `import kitcore`'s cost

    @functools.wraps(func)
    async def endpoint(request: Any) -> Any:
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        return await loop.run_in_executor(None, ctx.run, func, request)

    return endpoint
