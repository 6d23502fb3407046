"""Serving a typed service over gRPC: its methods as handlers on any ``grpc.aio.Server``.

The counterpart of kit-http's App: ``add_service(server, service)`` derives the service's
protobuf schema (``kit_grpc.schema``) and registers one handler per method under
``<package>.<ServiceClass>``, so a service class served by kit-http is served over gRPC
unchanged (a method that yields is a server-streaming RPC: ``kit_grpc.streaming``).
``middleware`` wraps every method's endpoint and ``named_middleware(name)`` each one by
its method's name (the Python name, as kit-http's App passes it), inside
``middleware``; the other keywords are ``kit_grpc.options.ServerOptions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc  # type: ignore[import-untyped]

from kit_grpc.handler import Handler, register
from kit_grpc.options import ServerOptions
from kit_grpc.schema import DEFAULT_PACKAGE, Schema, schema
from kit_grpc.streaming import StreamHandler
from kitcore.endpoint import Middleware
from kitcore.service import endpoint


def handlers(
    service: object,
    *,
    package: str = DEFAULT_PACKAGE,
    middleware: Middleware | None = None,
    named_middleware: Callable[[str], Middleware] | None = None,
    **options: Any,
) -> tuple[Schema, dict[str, Handler]]:
    """The schema of ``service`` and a Handler per method, by gRPC method name."""
    found = schema(service, package)
    server_options = ServerOptions.build(**options)
    out = {}
    for name, m in found.methods.items():
        ep = endpoint(service, name)
        if named_middleware is not None:
            ep = named_middleware(name)(ep)
        if middleware is not None:
            ep = middleware(ep)
        kind = StreamHandler if m.method.streaming else Handler
        out[m.name] = kind(ep, m.decode_request, m.encode_response, server_options, name=m.path)
    return found, out


def add_service(
    server: grpc.aio.Server,
    service: object,
    *,
    package: str = DEFAULT_PACKAGE,
    middleware: Middleware | None = None,
    named_middleware: Callable[[str], Middleware] | None = None,
    **options: Any,
) -> Schema:
    """Register every method of ``service`` on ``server``; returns the schema served."""
    found, method_handlers = handlers(
        service,
        package=package,
        middleware=middleware,
        named_middleware=named_middleware,
        **options,
    )
    register(server, found.service, method_handlers)
    return found
