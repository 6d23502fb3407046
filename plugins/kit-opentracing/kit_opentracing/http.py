"""kit-http options: Go kit's HTTPToContext (server ``before``) and ContextToHTTP (client)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentracing.ext import tags  # type: ignore[import-untyped]

from kit_opentracing.carrier import SPAN, extract, inject


def http_to_context(tracer: Any, operation_name: str) -> Callable[[Any], Mapping[str, Any]]:
    """A kit-http server ``before``: a span joined to the caller's, put in the context.

    ``trace_server`` then finishes it; the HTTP method and URL are tagged, as Go kit does.
    """

    def before(request: Any) -> Mapping[str, Any]:
        parent = extract(tracer, request.headers)
        span = tracer.start_span(operation_name, child_of=parent)
        span.set_tag(tags.HTTP_METHOD, request.method)
        span.set_tag(tags.HTTP_URL, request.path)
        return {SPAN: span}

    return before


def context_to_http(tracer: Any) -> Callable[[Any], None]:
    """A kit-http ``ClientEndpoint`` ``before``: inject the current span into the headers."""

    def before(outgoing: Any) -> None:
        inject(tracer, outgoing.headers)

    return before
