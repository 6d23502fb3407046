"""TraceServer and TraceClient: Go kit's endpoint middlewares over any OpenTracing Tracer.

``trace_server(tracer, name)`` continues the span a transport's ``before`` put in
``kitcore.context`` (``http_to_context``), or starts one, child of the caller's span
context in the incoming metadata when there is one; ``trace_client(tracer, name)``
starts a child of the current span for an outgoing call, which ``context_to_http``
injects. Both activate their span in the tracer's scope manager while the endpoint
runs, tag ``span.kind``, and tag errors: on the server a caller's mistake
(``is_caller_fault``) is not the server's error, as in kit-otel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentracing.ext import tags  # type: ignore[import-untyped]

from kit_opentracing.carrier import SPAN, current_span, extract
from kitcore import context
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import is_caller_fault, kind

METADATA = "kit.metadata"
"""The ``kitcore.context`` key where a transport binds the incoming metadata."""


def tag_error(span: Any, error: BaseException, *, server: bool) -> None:
    """Tag ``span`` with ``error``: its kit code always, ``error=true`` when it is one."""
    span.set_tag("kit.error.code", kind(error))
    if server and is_caller_fault(error):
        return
    span.set_tag(tags.ERROR, True)
    span.log_kv({"event": "error", "error.kind": type(error).__name__, "message": str(error)})


async def _run(tracer: Any, span: Any, next_: Endpoint, request: Any, *, server: bool) -> Any:
    """Call ``next_`` with ``span`` active, tag its error, finish it.

    The scope is closed by hand, not left by ``with``: a Scope's ``__exit__`` tags every
    exception as an error, the caller's mistakes included.
    """
    scope = tracer.scope_manager.activate(span, finish_on_close=False)
    try:
        with context.bind(**{SPAN: span}):
            return await next_(request)
    except BaseException as exc:
        tag_error(span, exc, server=server)
        raise
    finally:
        scope.close()
        span.finish()


def trace_server(
    tracer: Any,
    operation_name: str,
    *,
    metadata: Callable[[], Mapping[str, str] | None] | None = None,
) -> Middleware:
    """Go kit's TraceServer: a server span around each call, finished when it returns."""
    read = metadata or (lambda: context.get(METADATA))

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            span = context.get(SPAN)
            if span is None:
                span = tracer.start_span(operation_name, child_of=extract(tracer, read()))
            else:
                span.set_operation_name(operation_name)
            span.set_tag(tags.SPAN_KIND, tags.SPAN_KIND_RPC_SERVER)
            return await _run(tracer, span, next_, request, server=True)

        return endpoint

    return middleware


def trace_client(tracer: Any, operation_name: str) -> Middleware:
    """Go kit's TraceClient: a client span, child of the current one, around each call."""

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            span = tracer.start_span(operation_name, child_of=current_span(tracer))
            span.set_tag(tags.SPAN_KIND, tags.SPAN_KIND_RPC_CLIENT)
            return await _run(tracer, span, next_, request, server=False)

        return endpoint

    return middleware
