"""Span contexts in and out of HTTP headers and gRPC-style metadata, as Go kit's
``tracing/opentracing`` (HTTPToContext, ContextToHTTP, GRPCToContext, ContextToGRPC).

Both carriers are a mapping of str to str; metadata keys are lower case, as gRPC's are.
Extraction never fails a request: a tracer that cannot read a malformed header is
treated as having found nothing, and the call starts a new trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

import opentracing  # type: ignore[import-untyped]
from opentracing import Format

from kitcore import context

SPAN = "kit.opentracing.span"
"""The ``kitcore.context`` key holding the current request's span."""

_log = logging.getLogger("kit_opentracing")


def current_span(tracer: Any) -> Any:
    """The span of the current request (``kitcore.context``), else the tracer's active one."""
    span = context.get(SPAN)
    return span if span is not None else tracer.active_span


def extract(tracer: Any, headers: Mapping[str, str] | None) -> Any:
    """The caller's span context in ``headers``, or None (malformed or absent)."""
    if not headers:
        return None
    try:
        return tracer.extract(Format.HTTP_HEADERS, dict(headers))
    except (opentracing.SpanContextCorruptedException, opentracing.UnsupportedFormatException):
        return None
    except Exception:
        _log.warning("ignoring malformed span context", exc_info=True)
        return None


def inject(tracer: Any, headers: MutableMapping[str, str], span: Any = None) -> None:
    """Write ``span``'s context (the current span's by default) into ``headers``."""
    span = span if span is not None else current_span(tracer)
    if span is None:
        return
    carrier: dict[str, str] = {}
    tracer.inject(span.context, Format.HTTP_HEADERS, carrier)
    headers.update(carrier)


def inject_metadata(tracer: Any, metadata: MutableMapping[str, str], span: Any = None) -> None:
    """As ``inject``, with the lower-case keys gRPC metadata requires (ContextToGRPC)."""
    carrier: dict[str, str] = {}
    inject(tracer, carrier, span)
    metadata.update({k.lower(): v for k, v in carrier.items()})


def extract_metadata(tracer: Any, metadata: Mapping[str, str] | None) -> Any:
    """The caller's span context in gRPC-style ``metadata`` (GRPCToContext), or None."""
    return extract(tracer, metadata)
