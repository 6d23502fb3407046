"""kit-grpc tracing through the options kit-grpc already offers, as ``kit_otel.http`` for kit-http.

Server (``add_service(server, svc, **GRPCServerTracing(t, service=svc).options())``, or
``kit_grpc.serve``/``testing.running`` with the same keywords): ``before`` continues the
caller's trace (W3C or B3 in the metadata) in a SERVER span made current for the call,
``named_middleware`` names it ``package.Service/Method`` and marks errors from kit's typed
errors, ``finalizer`` records ``rpc.grpc.status_code`` and ends it; so a request refused
before the endpoint runs (a malformed message: INVALID_ARGUMENT) still gets its span.
The span travels from ``before`` to ``finalizer`` in a ContextVar: kit-grpc runs both in
the call's own task. Client: ``client_before`` injects the current context into a kit-grpc
client's outgoing metadata (``ServiceClient``/``ClientEndpoint`` ``before=``).

Status follows the RPC conventions for servers: only UNKNOWN, DEADLINE_EXCEEDED,
UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS are errors; a caller's fault
(INVALID_ARGUMENT, NOT_FOUND, ...) leaves the status unset, with ``error.type`` set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from kit_otel.carrier import extract, inject
from kit_otel.client import address_attributes
from kit_otel.spans import ERROR_TYPE, record_error
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import from_grpc_code

if TYPE_CHECKING:
    from kit_otel.tracing import Tracing

SYSTEM = "grpc"
"""The ``rpc.system`` of kit-grpc."""

SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""The codes that make a server span an error, as the RPC conventions list them."""

_TRACE_KEYS = frozenset({"traceparent", "b3", "x-b3-traceid", "uber-trace-id"})

# The current call's server span and its context token, from ``before`` to ``finalizer``.
_current: ContextVar[tuple[Span, object] | None] = ContextVar("kit_otel_grpc", default=None)


def text_metadata(metadata: Sequence[tuple[str, str | bytes]]) -> dict[str, str] | None:
    """The text entries of gRPC metadata as a mapping, or None when no trace key is there.

    Binary (``-bin``) entries carry no text trace context and are left out.
    """
    for key, _ in metadata:
        if key in _TRACE_KEYS:
            return {key: value for key, value in metadata if isinstance(value, str)}
    return None


class GRPCServerTracing:
    """The kit-grpc server options that trace every call: ``add_service(..., **t.options())``.

    ``service`` is the typed service served (its methods' wire names come from
    ``kit_grpc.schema`` under ``package``); ``address`` (``host:port``) is put on the
    spans as ``server.address``/``server.port``.
    """

    def __init__(
        self,
        tracing: Tracing,
        *,
        service: object | None = None,
        package: str | None = None,
        service_name: str | None = None,
        address: str | None = None,
    ) -> None:
        self.tracing = tracing
        self.methods: dict[str, str] = {}
        self.service_name = service_name
        if service is not None:
            from kit_grpc.schema import DEFAULT_PACKAGE, schema

            found = schema(service, package or DEFAULT_PACKAGE)
            self.service_name = service_name or found.service
            self.methods = {name: m.name for name, m in found.methods.items()}
        self.attributes: dict[str, Any] = {"rpc.system": SYSTEM, **address_attributes(address)}
        if self.service_name:
            self.attributes["rpc.service"] = self.service_name

    def options(self) -> dict[str, Any]:
        """``before``, ``finalizer`` and ``named_middleware`` for kit-grpc's server."""
        return {
            "before": self.before,
            "finalizer": self.finalizer,
            "named_middleware": self.named_middleware,
        }

    def before(self, metadata: Sequence[tuple[str, str | bytes]]) -> None:
        """Start the call's SERVER span, child of the caller's context when valid."""
        tracing = self.tracing
        carrier = text_metadata(metadata)
        parent = extract(tracing.propagator, carrier) if carrier is not None else None
        if parent is None and tracing.root_off:
            return
        name = self.service_name or SYSTEM
        span = tracing.tracer.start_span(name, parent, SpanKind.SERVER, self.attributes)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        _current.set((span, token))

    def finalizer(
        self, metadata: Sequence[tuple[str, str | bytes]], code: grpc.StatusCode, seconds: float
    ) -> None:
        """Record the status code (an error for the server's failures) and end the span."""
        found = _current.get()
        if found is None:
            return
        _current.set(None)
        span, token = found
        otel_context.detach(token)  # type: ignore[arg-type]
        if span.is_recording():
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            attributes = span.attributes  # type: ignore[attr-defined]
            if code is not grpc.StatusCode.OK and ERROR_TYPE not in attributes:
                span.set_attribute(ERROR_TYPE, from_grpc_code(code.value[0], "").code)
            if code in SERVER_ERRORS and span.status.status_code is StatusCode.UNSET:  # type: ignore[attr-defined]
                span.set_status(Status(StatusCode.ERROR, f"gRPC {code.name}"))
        span.end()

    def named_middleware(self, name: str) -> Middleware:
        """Name the current call's span after the method; mark its errors."""
        method = self.methods.get(name) or name
        span_name = f"{self.service_name}/{method}" if self.service_name else method

        def middleware(next_: Endpoint) -> Endpoint:
            async def endpoint(request: Any) -> Any:
                found = _current.get()  # a tenth of trace.get_current_span()'s cost
                if found is None or not found[0].is_recording():
                    return await next_(request)
                span = found[0]
                span.set_attribute("rpc.method", method)
                span.update_name(span_name)
                try:
                    return await next_(request)
                except BaseException as exc:
                    record_error(span, exc, server=True)
                    raise

            return endpoint

        return middleware


def client_before(tracing: Tracing) -> Callable[[list[tuple[str, str | bytes]]], None]:
    """A kit-grpc client ``before`` option: the current trace context into the metadata."""
    propagator = tracing.propagator

    def before(metadata: list[tuple[str, str | bytes]]) -> None:
        carrier: dict[str, str] = {}
        inject(propagator, carrier)
        # gRPC refuses upper-case metadata keys; every OpenTelemetry propagator's are lower.
        metadata.extend((key.lower(), value) for key, value in carrier.items())

    return before
