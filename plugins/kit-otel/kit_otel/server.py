"""Server spans for any transport: one SERVER span per call, continuing the caller's trace.

The transport hands over the incoming metadata (headers, gRPC metadata: a mapping of
lower-case str to str) and names itself (``rpc.system``) and what is called
(``rpc.service``, ``rpc.method``); the span is made current for the endpoint, so logs,
nested spans and outgoing calls join the trace. Transports that cannot pass the
metadata to the middleware put it in ``kitcore.context`` under ``METADATA``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kit_otel.carrier import extract
from kit_otel.spans import record_error
from kitcore import context
from kitcore.endpoint import Endpoint, Middleware

if TYPE_CHECKING:
    from kit_otel.tracing import Tracing

METADATA = "kit.metadata"
"""The ``kitcore.context`` key under which a transport binds the incoming metadata."""

Attributes = Mapping[str, "str | int | float | bool"]
"""Span attributes."""


def rpc_attributes(system: str, service: str | None, method: str) -> dict[str, Any]:
    """The RPC conventions' attributes for one method."""
    attributes: dict[str, Any] = {"rpc.system": system, "rpc.method": method}
    if service:
        attributes["rpc.service"] = service
    return attributes


def server_middleware(
    tracing: Tracing,
    method: str,
    *,
    system: str,
    service: str | None = None,
    metadata: Callable[[], Mapping[str, str] | None] | None = None,
    attributes: Attributes | None = None,
) -> Middleware:
    """A Middleware running each call in a SERVER span named ``service/method``.

    ``metadata()`` returns the incoming metadata (default: ``kitcore.context``'s
    ``METADATA`` value); its trace context, when valid, is the span's parent.
    """
    name = f"{service}/{method}" if service else method
    static = {**rpc_attributes(system, service, method), **(attributes or {})}
    tracer = tracing.tracer
    propagator = tracing.propagator
    read = metadata or (lambda: context.get(METADATA))

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            parent = extract(propagator, read())
            if parent is None and tracing.root_off:
                return await next_(request)
            span = tracer.start_span(name, parent, SpanKind.SERVER, static)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            try:
                return await next_(request)
            except BaseException as exc:
                record_error(span, exc, server=True)
                raise
            finally:
                otel_context.detach(token)
                span.end()

        return endpoint

    return middleware
