"""JSON-RPC 2.0 over HTTP: Go kit's transport/http/jsonrpc, following the specification fully.

Serve a typed service or an endpoint set with ``app(...)`` (a kit-http App) or mount a
``Server`` beside kit-http's routes; call it with ``kitcore.connect(Service,
"jsonrpc://host:port/path")`` or the explicit ``ClientEndpoint``. Typed kit errors travel
in ``error.data`` and are raised again on the client with the same class and fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_http.jsonrpc.client import ClientEndpoint, ServiceClient
    from kit_http.jsonrpc.errors import (
        InvalidParams,
        InvalidRequest,
        MethodNotFound,
        ParseError,
    )
    from kit_http.jsonrpc.procedure import EndpointCodec
    from kit_http.jsonrpc.server import Server, app, error_encoder

__all__ = [
    "ClientEndpoint",
    "EndpointCodec",
    "InvalidParams",
    "InvalidRequest",
    "MethodNotFound",
    "ParseError",
    "Server",
    "ServiceClient",
    "app",
    "error_encoder",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ClientEndpoint": "kit_http.jsonrpc.client",
        "ServiceClient": "kit_http.jsonrpc.client",
        "EndpointCodec": "kit_http.jsonrpc.procedure",
        "InvalidParams": "kit_http.jsonrpc.errors",
        "InvalidRequest": "kit_http.jsonrpc.errors",
        "MethodNotFound": "kit_http.jsonrpc.errors",
        "ParseError": "kit_http.jsonrpc.errors",
        "Server": "kit_http.jsonrpc.server",
        "app": "kit_http.jsonrpc.server",
        "error_encoder": "kit_http.jsonrpc.server",
    },
)
