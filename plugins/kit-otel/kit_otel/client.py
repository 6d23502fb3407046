"""Client spans: one for the logical call, one child per attempt, for any transport.

``call_middleware`` wraps what ``kitcore.connect`` calls once per method call (outside
Retry): an INTERNAL span ``service/method``. ``attempt_middleware`` wraps each
instance's endpoint (``connect(middleware=...)``, outermost, so that it sees the
breaker's and limiter's refusals): a CLIENT span per attempt, numbered, made current
so the transport injects it (``inject``, or kit-http's ``trace_config``) and names
the instance it reached. Why an attempt failed is ``kit.attempt.failure``:
``breaker_open``, ``rate_limited``, ``deadline``, ``unavailable`` or the error's code.
``client_middleware`` is the plain one-span form for an explicit client endpoint;
``peer_middleware(instance)`` (an ``instance_middleware``) names the instance on the
attempt span for transports whose client cannot (kit-grpc's). When no new trace is ever
sampled and the call has no trace context, the call and attempt spans are skipped
altogether: a span that cannot be recorded would only cost its ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, SpanKind

from kit_otel.server import Attributes, rpc_attributes
from kit_otel.spans import record_error
from kitcore import context
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import DeadlineExceeded, KitError, ResourceExhausted, Unavailable

if TYPE_CHECKING:
    from kit_otel.tracing import Tracing

FAILURE = "kit.attempt.failure"
"""The attribute saying why an attempt failed."""

# The attempt number within the current logical call (1, 2, ...); 0 outside one.
_attempts: ContextVar[list[int] | None] = ContextVar("kit_otel_attempts", default=None)


def failure_reason(error: BaseException, sent: bool) -> str:
    """Why an attempt failed, for ``kit.attempt.failure``.

    A refusal before anything was sent is the breaker's (kitcore's breakers raise
    Unavailable saying the circuit is open) or the limiter's (ResourceExhausted). An
    attempt cancelled once the deadline has passed is the deadline's (Retry's timeout
    cancels the attempt, then raises DeadlineExceeded itself).
    """
    if isinstance(error, asyncio.CancelledError):
        left = context.remaining()
        return "deadline" if left is not None and left <= 0 else "cancelled"
    if isinstance(error, DeadlineExceeded):
        return "deadline"
    if isinstance(error, ResourceExhausted):
        return "rate_limited"
    if isinstance(error, Unavailable):
        if not sent and "circuit breaker" in error.message:
            return "breaker_open"
        return "unavailable"
    return error.code if isinstance(error, KitError) else "internal"


def _method_name(call: Any, methods: Mapping[str, str] | None = None) -> str:
    method = getattr(call, "method", None)
    name = str(getattr(method, "name", "call"))
    return methods.get(name, name) if methods else name


def call_middleware(
    tracing: Tracing,
    *,
    system: str,
    service: str | None = None,
    method: str | None = None,
    methods: Mapping[str, str] | None = None,
) -> Middleware:
    """A Middleware over ``kitcore.Call`` endpoints: one INTERNAL span per logical call.

    ``method`` names the calls when the requests are not Calls (an explicit Retry);
    ``methods`` maps a Call's method name to its name on the wire (gRPC's ``Echo``).
    """
    tracer = tracing.tracer
    root_off = tracing.root_off
    fixed = method

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(call: Any) -> Any:
            if root_off and trace.get_current_span() is INVALID_SPAN:
                return await next_(call)
            method = fixed or _method_name(call, methods)
            name = f"{service}/{method}" if service else method
            span = tracer.start_span(
                name, None, SpanKind.INTERNAL, rpc_attributes(system, service, method)
            )
            token = otel_context.attach(trace.set_span_in_context(span))
            counter = _attempts.set([0])
            try:
                return await next_(call)
            except BaseException as exc:
                record_error(span, exc, server=False)
                raise
            finally:
                _attempts.reset(counter)
                otel_context.detach(token)
                span.end()

        return endpoint

    return middleware


def attempt_middleware(
    tracing: Tracing,
    *,
    system: str,
    service: str | None = None,
    method: str | None = None,
    methods: Mapping[str, str] | None = None,
) -> Middleware:
    """A Middleware over one instance's endpoint: a CLIENT span per attempt."""
    tracer = tracing.tracer
    root_off = tracing.root_off
    fixed = method

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(call: Any) -> Any:
            if root_off and trace.get_current_span() is INVALID_SPAN:
                return await next_(call)
            method = fixed or _method_name(call, methods)
            counter = _attempts.get()
            number = 1
            if counter is not None:
                counter[0] += 1
                number = counter[0]
            attributes = rpc_attributes(system, service, method)
            attributes["kit.attempt"] = number
            if number > 1:
                attributes["http.request.resend_count"] = number - 1
            name = f"{service}/{method}" if service else method
            span = tracer.start_span(name, None, SpanKind.CLIENT, attributes)
            token = otel_context.attach(trace.set_span_in_context(span))
            try:
                return await next_(call)
            except BaseException as exc:
                if span.is_recording():
                    sent = "server.address" in span.attributes  # type: ignore[attr-defined]
                    span.set_attribute(FAILURE, failure_reason(exc, sent))
                record_error(span, exc, server=False)
                raise
            finally:
                otel_context.detach(token)
                span.end()

        return endpoint

    return middleware


def client_middleware(
    tracing: Tracing,
    method: str,
    *,
    system: str,
    service: str | None = None,
    attributes: Attributes | None = None,
) -> Middleware:
    """A Middleware running each call in a CLIENT span, current while the transport sends."""
    tracer = tracing.tracer
    name = f"{service}/{method}" if service else method
    static = {**rpc_attributes(system, service, method), **(attributes or {})}

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            span = tracer.start_span(name, None, SpanKind.CLIENT, static)
            token = otel_context.attach(trace.set_span_in_context(span))
            try:
                return await next_(request)
            except BaseException as exc:
                record_error(span, exc, server=False)
                raise
            finally:
                otel_context.detach(token)
                span.end()

        return endpoint

    return middleware


def address_attributes(address: str | None) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of ``host:port[/path]`` or a URL."""
    if not address:
        return {}
    netloc = address.split("://", 1)[-1].split("/", 1)[0]
    host, sep, port = netloc.rpartition(":")
    if not sep:
        return {"server.address": port}
    out: dict[str, Any] = {"server.address": host.strip("[]")}
    if port.isdigit():
        out["server.port"] = int(port)
    return out


def peer_middleware(instance: str) -> Middleware:
    """Put ``instance`` (``host:port``) on the current (attempt) span as it is called."""
    attributes = address_attributes(instance)

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(call: Any) -> Any:
            span = trace.get_current_span()
            if span.is_recording():
                span.set_attributes(attributes)
            return await next_(call)

        return endpoint

    return middleware
