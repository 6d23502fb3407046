"""JSON-RPC tracing (kit-http's ``kit_http.jsonrpc``): one SERVER span per procedure call.

One HTTP request may carry a batch, so the span is per call, not per request: the
route's ``before`` binds the request's headers (and the address served) into
``kitcore.context``, and the Server's ``named_middleware`` runs each call in a SERVER
span named ``Service/method``, child of the caller's context in those headers, with
``rpc.system=jsonrpc``, ``rpc.method``, ``rpc.jsonrpc.version`` and, when the call
fails, ``rpc.jsonrpc.error_code``/``rpc.jsonrpc.error_message`` (the code the reply
carries) and ``error.type``. A caller's fault (-32602 invalid params from the endpoint,
kit's InvalidArgument -32003, ...) leaves the status unset. Requests refused before any
procedure runs (parse errors, unknown methods, params that do not decode) are answered
without a span.

    jsonrpc.app(svc, **JSONRPCServerTracing(t, service=svc).options())

or, mounting on your own App: ``Server(svc, named_middleware=st.named_middleware)`` and
``server.mount(app, "/rpc", before=st.before)``. The client side needs nothing of its
own: kit-http's JSON-RPC clients post over aiohttp, so ``Tracing.http_session()`` (what
``Tracing.connect`` gives a ``jsonrpc://`` target) injects the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kit_otel.carrier import extract
from kit_otel.server import METADATA
from kit_otel.spans import record_error
from kitcore import context
from kitcore.endpoint import Endpoint, Middleware
from kitcore.service import describe

if TYPE_CHECKING:
    from kit_otel.tracing import Tracing

SYSTEM = "jsonrpc"
"""The ``rpc.system`` of JSON-RPC."""

PEER = "kit_otel.jsonrpc.server"
"""The ``kitcore.context`` key of the ``(host, port)`` the request came in on."""

_TRACE_HEADERS = frozenset({b"traceparent", b"b3", b"x-b3-traceid", b"uber-trace-id"})


def error_member(error: Exception) -> tuple[int, str]:
    """The JSON-RPC error code and message the reply to a call failing with ``error`` carries."""
    from kit_http.jsonrpc.errors import code_of, wire_error

    sent = wire_error(error)
    return code_of(sent), sent.message


class JSONRPCServerTracing:
    """The route ``before`` and Server ``named_middleware`` tracing every JSON-RPC call."""

    def __init__(
        self,
        tracing: Tracing,
        *,
        service: object | None = None,
        service_name: str | None = None,
    ) -> None:
        self.tracing = tracing
        self.service_name = service_name or (
            describe(service).name if service is not None else None
        )

    def options(self) -> dict[str, Any]:
        """``before`` and ``named_middleware`` for ``kit_http.jsonrpc.app``."""
        return {"before": self.before, "named_middleware": self.named_middleware}

    def before(self, request: Any) -> Mapping[str, Any] | None:
        """Bind the request's headers (when they carry a trace) and address for the calls."""
        scope = request.scope
        for name, _ in scope.get("headers", ()):
            if name in _TRACE_HEADERS:
                return {PEER: scope.get("server"), METADATA: request.headers}
        if self.tracing.root_off:
            return None  # no caller context and no new trace: no span to describe
        return {PEER: scope.get("server")}

    def named_middleware(self, name: str) -> Middleware:
        """A SERVER span per call of procedure ``name``."""
        tracing = self.tracing
        tracer = tracing.tracer
        propagator = tracing.propagator
        span_name = f"{self.service_name}/{name}" if self.service_name else name
        static: dict[str, Any] = {
            "rpc.system": SYSTEM,
            "rpc.method": name,
            "rpc.jsonrpc.version": "2.0",
        }
        if self.service_name:
            static["rpc.service"] = self.service_name

        def middleware(next_: Endpoint) -> Endpoint:
            async def endpoint(request: Any) -> Any:
                metadata = context.get(METADATA)
                parent = extract(propagator, metadata) if metadata is not None else None
                if parent is None and tracing.root_off:
                    return await next_(request)
                attributes = dict(static)
                server = context.get(PEER)
                if server:
                    attributes["server.address"] = server[0]
                    if server[1] is not None:
                        attributes["server.port"] = server[1]
                span = tracer.start_span(span_name, parent, SpanKind.SERVER, attributes)
                token = otel_context.attach(trace.set_span_in_context(span, parent))
                try:
                    return await next_(request)
                except BaseException as exc:
                    if span.is_recording() and isinstance(exc, Exception):
                        code, message = error_member(exc)
                        span.set_attribute("rpc.jsonrpc.error_code", code)
                        span.set_attribute("rpc.jsonrpc.error_message", message)
                    record_error(span, exc, server=True)
                    raise
                finally:
                    otel_context.detach(token)
                    span.end()

            return endpoint

        return middleware
