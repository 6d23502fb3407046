"""Wiring the client spans into ``kitcore.connect`` with what it offers today.

``connect(middleware=...)`` wraps each instance's endpoint: the attempt span goes
there (outermost, so it sees breaker and limiter refusals). connect has no option for
a middleware around the whole call (outside Retry), so ``trace_calls`` wraps the
Client's methods in the call span instead; once connect takes one, pass
``tracing.call_middleware(...)`` to it and drop this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kitcore.client import Call, Client
from kitcore.endpoint import Endpoint, Middleware
from kitcore.service import Method, describe

C = TypeVar("C", bound=Client[Any])


def _through(method: Callable[..., Any]) -> Endpoint:
    """An endpoint taking a Call and calling the Client's own method with its fields."""

    async def endpoint(call: Call) -> Any:
        request = call.request
        return await method(**{f: getattr(request, f) for f in request.__struct_fields__})

    return endpoint


def _traced(m: Method, endpoint: Endpoint) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await endpoint(Call(m, m.request(*args, **kwargs)))

    call.__name__ = m.attr
    call.__doc__ = m.description
    return call


def trace_calls(client: C, service: type[Any], middleware: Middleware) -> C:
    """Run every call of ``client`` (a ``connect(service, ...)``) through ``middleware``.

    Streaming methods are left as they are: a call span would end before their items.
    """
    for m in describe(service).methods.values():
        if m.streaming:
            continue
        setattr(client, m.attr, _traced(m, middleware(_through(getattr(client, m.attr)))))
    return client


def traced_connect(
    tracing: Any,
    service: type[Any],
    target: str,
    *,
    system: str = "kit_http",
    service_name: str | None = None,
    middleware: Middleware | None = None,
    **options: Any,
) -> Client[Any]:
    """``kitcore.connect`` with a span per call, a child span per attempt, and propagation.

    ``middleware`` (a breaker, a limiter...) runs inside the attempt span. The kit-http
    transport is given a session that injects each attempt's context; call inside the
    running loop. Closing the client closes that session too.
    """
    from kitcore import chain, connect

    name = service_name or service.__name__
    attempt = tracing.attempt_middleware(system=system, service=name)
    session = tracing.http_session()
    client = connect(
        service,
        target,
        middleware=chain(attempt, middleware) if middleware else attempt,
        session=session,
        **options,
    )
    close = client.close

    async def close_all() -> None:
        try:
            await close()
        finally:
            await session.close()

    client.close = close_all
    return trace_calls(client, service, tracing.call_middleware(system=system, service=name))
