"""kit-otel: OpenTelemetry tracing for kit services and clients.

``Tracing.from_url(url)`` builds a tracer provider exporting to OTLP (gRPC or HTTP),
Zipkin or the console; its methods give the server options of kit-http
(``http_server``), kit-grpc (``grpc_server``) and JSON-RPC (``jsonrpc_server``), a
``connect`` whose propagation follows the transport, call and attempt middlewares,
transport-agnostic server/client middlewares and the propagation helpers;
``kit_otel.log`` correlates kitcore.log lines and Prometheus exemplars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_otel.log import correlated, exemplar, span_id, trace_id
    from kit_otel.server import METADATA
    from kit_otel.tracing import Tracing

__all__ = ["METADATA", "Tracing", "correlated", "exemplar", "span_id", "trace_id"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "METADATA": "kit_otel.server",
        "Tracing": "kit_otel.tracing",
        "correlated": "kit_otel.log",
        "exemplar": "kit_otel.log",
        "span_id": "kit_otel.log",
        "trace_id": "kit_otel.log",
    },
)
