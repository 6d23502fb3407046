"""Wiring the client spans into ``kitcore.connect`` with what it offers today.

``connect(middleware=...)`` wraps each instance's endpoint: the attempt span goes
there (outermost, so it sees breaker and limiter refusals). Propagation is chosen by
transport (the target's scheme, or ``transport=`` for a discovery URL): ``http``,
``https`` and ``jsonrpc`` clients post over aiohttp, so they get a session injecting
each attempt's context (``kit_otel.http.trace_config``); ``grpc`` clients get a
``before`` writing it into the call's metadata and an ``instance_middleware`` naming the
instance on the attempt span. connect has no option for
a middleware around the whole call (outside Retry), so ``trace_calls`` wraps the
Client's methods in the call span instead; once connect takes one, pass
``tracing.call_middleware(...)`` to it and drop this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kitcore.client import Call, Client
from kitcore.endpoint import Endpoint, Middleware
from kitcore.service import Method, describe

if TYPE_CHECKING:
    from kit_otel.tracing import Tracing

C = TypeVar("C", bound=Client[Any])

SYSTEMS = {"http": "kit_http", "https": "kit_http", "grpc": "grpc", "jsonrpc": "jsonrpc"}
"""The ``rpc.system`` of each transport kit-otel propagates on."""


def transport_of(target: str, transport: str | None) -> str:
    """The transport ``connect`` uses for ``target``: its scheme, else ``transport``/http."""
    if transport:
        return transport
    scheme = target.split("://", 1)[0].lower()
    return scheme if scheme in SYSTEMS else "http"


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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if callable(value) else list(value)


def traced_connect(
    tracing: Tracing,
    service: type[Any],
    target: str,
    *,
    system: str | None = None,
    service_name: str | None = None,
    middleware: Middleware | None = None,
    **options: Any,
) -> Client[Any]:
    """``kitcore.connect`` with a span per call, a child span per attempt, and propagation.

    ``middleware`` (a breaker, a limiter...) runs inside the attempt span. Call inside
    the running loop (an HTTP or JSON-RPC client's session is made here); closing the
    client closes that session too. A gRPC client's spans are named by the wire names
    (``package.Service/Method``), as kit-grpc's server spans are.
    """
    from kitcore import chain, connect

    transport = transport_of(target, options.get("transport"))
    system = system or SYSTEMS.get(transport, transport)
    name = service_name or service.__name__
    methods: dict[str, str] | None = None
    session = None
    if transport == "grpc":
        from kit_grpc.schema import DEFAULT_PACKAGE, schema

        from kit_otel.client import peer_middleware
        from kit_otel.grpc import client_before

        found = schema(service, options.get("package") or DEFAULT_PACKAGE)
        name = service_name or found.service
        methods = {n: m.name for n, m in found.methods.items()}
        options["before"] = [client_before(tracing), *_as_list(options.get("before"))]
        theirs = options.get("instance_middleware")

        def instance_middleware(instance: str) -> Middleware:
            peer = peer_middleware(instance)
            return chain(theirs(instance), peer) if theirs else peer

        options["instance_middleware"] = instance_middleware
    elif transport in ("http", "https", "jsonrpc"):
        session = tracing.http_session()
        options["session"] = session
    attempt = tracing.attempt_middleware(system=system, service=name, methods=methods)
    client = connect(
        service,
        target,
        middleware=chain(attempt, middleware) if middleware else attempt,
        **options,
    )
    if session is not None:
        close = client.close
        opened = session

        async def close_all() -> None:
            try:
                await close()
            finally:
                await opened.close()

        client.close = close_all
    call = tracing.call_middleware(system=system, service=name, methods=methods)
    return trace_calls(client, service, call)
