"""kit-grpc: kit's gRPC transport on grpc.aio.

Serve a typed service with ``kit_grpc.serve.serve(service, "grpc://host:port")`` (the
module shares the name, so it is not re-exported here) or ``add_service`` on your own
``grpc.aio.Server``, with protobuf derived at run time from its signatures;
bind single endpoints Go kit style with ``Server`` and ``ClientEndpoint``; call a typed
service with ``kitcore.connect(Service, "grpc://host:port")``; shed load before decoding
with the ``kit_grpc.admission.Admission`` interceptor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_grpc.app import add_service
    from kit_grpc.client import ClientEndpoint, ServiceClient
    from kit_grpc.options import Outgoing, ServerOptions
    from kit_grpc.schema import Schema, schema
    from kit_grpc.server import Server, register

__all__ = [
    "ClientEndpoint",
    "Outgoing",
    "Schema",
    "Server",
    "ServerOptions",
    "ServiceClient",
    "add_service",
    "register",
    "schema",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "add_service": "kit_grpc.app",
        "ClientEndpoint": "kit_grpc.client",
        "ServiceClient": "kit_grpc.client",
        "Outgoing": "kit_grpc.options",
        "ServerOptions": "kit_grpc.options",
        "Schema": "kit_grpc.schema",
        "schema": "kit_grpc.schema",
        "Server": "kit_grpc.server",
        "register": "kit_grpc.server",
    },
)
