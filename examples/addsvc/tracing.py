"""addcli's tracing: a CLIENT span per call, its context sent along, on each transport.

The span (kit-otel's ``client_middleware``) wraps the transport's endpoint, so it is
current while the request goes out; the transport's ``before`` writes its context as W3C
``traceparent`` (or what the tracing's propagators say) into the HTTP or JSON-RPC
request's headers or the gRPC call's metadata, and a traced addsvc's server span is its
child. The names match the server's: ``addsvc/sum`` over HTTP and JSON-RPC,
``pb.Add/Sum`` over gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kit_otel import Tracing
from kit_otel.client import address_attributes

from examples.addsvc import pb
from examples.addsvc.endpoints import SERVICE
from kitcore.endpoint import Middleware

SYSTEMS = {"http": "kit_http", "grpc": "grpc", "jsonrpc": "jsonrpc"}
"""Each transport's ``rpc.system``, as kit-otel's server spans name it."""


def client_options(tracing: Tracing, transport: str, instance: str) -> dict[str, Any]:
    """``new_client`` keywords (``before``, ``named_middleware``) tracing calls to ``instance``."""
    system = SYSTEMS[transport]
    service = pb.SERVICE if transport == "grpc" else SERVICE
    # kit-http's before names the instance on the span from the URL; gRPC's cannot.
    peer = address_attributes(instance) if transport == "grpc" else {}

    def named_middleware(method: str) -> Middleware:
        return tracing.client_middleware(method, system=system, service=service, attributes=peer)

    before: Callable[..., None] = (
        tracing.grpc_client_before() if transport == "grpc" else tracing.http_client_before()
    )
    return {"before": before, "named_middleware": named_middleware}
