"""kit-http tracing through the options kit-http already offers, as Go kit's zipkin HTTP trace.

Server: ``before`` continues the caller's trace (W3C or B3 headers) in a SERVER span
made current for the call, the named middleware names it after the method and marks
errors from kit's typed errors, ``finalizer`` records the status and ends it; so a
request that fails decoding (400) or is cut short still gets its span. Client:
``client_before`` injects the current context into a ``ClientEndpoint``'s headers, and
``trace_config`` does the same for any aiohttp session (the one ``kitcore.connect``'s
``http`` transport is given), also naming the instance called on the current span.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from kit_otel.carrier import extract, inject
from kit_otel.server import rpc_attributes
from kit_otel.spans import ERROR_TYPE, record_error
from kitcore.endpoint import Endpoint, Middleware
from kitcore.service import describe

if TYPE_CHECKING:
    import aiohttp

    from kit_otel.tracing import Tracing

SYSTEM = "kit_http"
"""The ``rpc.system`` of kit's JSON-over-HTTP transport."""

_SPAN = "kit_otel.span"  # the ASGI scope key holding the span and tokens, before to finalizer

# The request's span for named_middleware: a ContextVar read costs a tenth of
# trace.get_current_span(), which counts when sampling is off (kit-http runs before,
# the endpoint and the finalizer in one context).
_request_span: ContextVar[Span | None] = ContextVar("kit_otel_http", default=None)

_TRACE_HEADERS = frozenset({b"traceparent", b"b3", b"x-b3-traceid", b"uber-trace-id"})


def _routes(service: object | None, prefix: str) -> dict[str, str]:
    """Method name -> its route template, as kit-http binds a typed service."""
    if service is None:
        return {}
    base = prefix.rstrip("/")
    routes = {}
    for name, m in describe(service).methods.items():
        spec = m.options.get("http") or f"POST /{name}"
        routes[name] = base + spec.split(None, 1)[1]
    return routes


class HTTPServerTracing:
    """The kit-http server options that trace every request: ``App(..., **t.options())``."""

    def __init__(
        self,
        tracing: Tracing,
        *,
        service: object | None = None,
        service_name: str | None = None,
        prefix: str = "",
        system: str = SYSTEM,
    ) -> None:
        self.tracing = tracing
        self.system = system
        self.service_name = service_name or (type(service).__name__ if service else None)
        self.prefix = prefix
        self.routes = _routes(service, prefix)

    def options(self) -> dict[str, Any]:
        """``before``, ``finalizer`` and ``named_middleware`` for ``kit_http.App``."""
        return {
            "before": self.before,
            "finalizer": self.finalizer,
            "named_middleware": self.named_middleware,
        }

    def before(self, request: Any) -> Mapping[str, Any] | None:
        """Start the request's SERVER span, child of the caller's context when valid."""
        scope = request.scope
        tracing = self.tracing
        parent = None
        for name, _ in scope.get("headers", ()):
            if name in _TRACE_HEADERS:
                parent = extract(tracing.propagator, request.headers)
                break
        if parent is None and tracing.root_off:
            return None
        method = scope["method"]
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        server = scope.get("server")
        if server:
            attributes["server.address"] = server[0]
            if server[1] is not None:
                attributes["server.port"] = server[1]
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        version = scope.get("http_version")
        if version:
            attributes["network.protocol.version"] = version
        name = method
        if not request.path_params:
            # With no path parameters the path is the route's template itself: an explicit
            # route's span gets its name here, a service method's from named_middleware.
            attributes["http.route"] = scope["path"]
            name = f"{method} {scope['path']}"
        span = tracing.tracer.start_span(name, parent, SpanKind.SERVER, attributes)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        scope[_SPAN] = (span, token, _request_span.set(span))
        return None

    def finalizer(self, request: Any, status: int, seconds: float) -> None:
        """Record the response status (5xx: an error) and end the span."""
        found = request.scope.pop(_SPAN, None)
        if found is None:
            return
        span, token, current = found
        _request_span.reset(current)
        otel_context.detach(token)
        if span.is_recording():
            if status != 499:  # 499: the client went away before a response was sent
                span.set_attribute("http.response.status_code", status)
            if status >= 500 and ERROR_TYPE not in span.attributes:
                span.set_attribute(ERROR_TYPE, str(status))
                span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        span.end()

    def named_middleware(self, name: str) -> Middleware:
        """Name the current request's span after the method; mark its errors."""
        route = self.routes.get(name) or f"{self.prefix.rstrip('/')}/{name}"
        attributes = {**rpc_attributes(self.system, self.service_name, name), "http.route": route}
        span_name = f"{self.service_name}/{name}" if self.service_name else None

        def middleware(next_: Endpoint) -> Endpoint:
            async def endpoint(request: Any) -> Any:
                span = _request_span.get()
                if span is None or not span.is_recording():
                    return await next_(request)
                span.set_attributes(attributes)
                method = span.attributes.get("http.request.method", "")  # type: ignore[attr-defined]
                span.update_name(span_name or f"{method} {route}")
                try:
                    return await next_(request)
                except BaseException as exc:
                    record_error(span, exc, server=True)
                    raise

            return endpoint

        return middleware


def client_before(tracing: Tracing) -> Callable[[Any], None]:
    """A ``ClientEndpoint`` ``before`` option injecting the current trace context."""
    propagator = tracing.propagator

    def before(outgoing: Any) -> None:
        inject(propagator, outgoing.headers)
        name_peer(trace.get_current_span(), outgoing.method, outgoing.url)

    return before


def name_peer(span: trace.Span, method: str, url: Any) -> None:
    """Put the instance called (``server.address``, ``server.port``, ``url.full``) on ``span``."""
    if not span.is_recording():
        return
    if isinstance(url, str):
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port
    else:  # aiohttp's yarl.URL
        host, port = url.host, url.port
    span.set_attribute("server.address", host or "")
    if port is not None:
        span.set_attribute("server.port", port)
    span.set_attribute("url.full", str(url))
    span.set_attribute("http.request.method", method)


def trace_config(tracing: Tracing) -> aiohttp.TraceConfig:
    """An aiohttp TraceConfig: inject the current context, name the peer on the current span.

    Give it to the session ``kitcore.connect(..., session=...)`` passes to kit-http, so
    every attempt's request carries its attempt span's context.
    """
    import aiohttp

    propagator = tracing.propagator

    async def on_request_start(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any
    ) -> None:
        inject(propagator, params.headers)
        name_peer(trace.get_current_span(), params.method, params.url)

    async def on_request_end(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any
    ) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("http.response.status_code", params.response.status)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    config.on_request_end.append(on_request_end)
    return config


def traced_session(tracing: Tracing, **options: Any) -> aiohttp.ClientSession:
    """An aiohttp session with ``trace_config``; create it inside the running loop."""
    import aiohttp

    configs = [*options.pop("trace_configs", ()), trace_config(tracing)]
    options.setdefault("skip_auto_headers", ("User-Agent",))
    return aiohttp.ClientSession(trace_configs=configs, **options)
