"""kit-opentracing: Go kit's tracing/opentracing over any OpenTracing Tracer.

``trace_server`` / ``trace_client`` are TraceServer / TraceClient; ``http_to_context``
and ``context_to_http`` are the kit-http options that carry the span, ``grpc_to_context``
and ``context_to_grpc`` the kit-grpc ones (plain functions: nothing of kit-grpc is
imported); ``inject`` / ``extract`` (and their ``_metadata`` forms) work on any mapping
of str to str.
"""

from __future__ import annotations

from kit_opentracing.carrier import (
    SPAN,
    current_span,
    extract,
    extract_metadata,
    inject,
    inject_metadata,
)
from kit_opentracing.grpc import context_to_grpc, grpc_to_context
from kit_opentracing.http import context_to_http, http_to_context
from kit_opentracing.middleware import trace_client, trace_server
from kit_opentracing.tracer import OpenTracing

__all__ = [
    "SPAN",
    "OpenTracing",
    "context_to_grpc",
    "context_to_http",
    "current_span",
    "extract",
    "extract_metadata",
    "grpc_to_context",
    "http_to_context",
    "inject",
    "inject_metadata",
    "trace_client",
    "trace_server",
]
