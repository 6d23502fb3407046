"""How a span ends: its status and ``error.type`` from kit's typed errors.

A server span is an error only when the server failed: a caller's InvalidArgument or
NotFound (``kitcore.errors.is_caller_fault``) leaves its status unset, as
OpenTelemetry's conventions leave a 4xx unset on the server. A client span is an
error whatever the cause, since the call did not give its caller what it wanted.
``error.type`` is the kit error's wire code (``invalid_argument``, ``unavailable``),
or the exception's class name for anything else: low-cardinality, as the conventions ask.
"""

from __future__ import annotations

import asyncio

from opentelemetry.trace import Span, Status, StatusCode

from kitcore.errors import KitError, is_caller_fault

ERROR_TYPE = "error.type"


def error_type(error: BaseException) -> str:
    """The ``error.type`` of ``error``: its kit code, else its class's qualified name."""
    if isinstance(error, KitError):
        return error.code
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    cls = type(error)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def record_error(span: Span, error: BaseException, *, server: bool) -> None:
    """Mark ``span`` with ``error``: ``error.type`` always, an error status when it is one."""
    if not span.is_recording():
        return
    span.set_attribute(ERROR_TYPE, error_type(error))
    if isinstance(error, asyncio.CancelledError) or (server and is_caller_fault(error)):
        return
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:500]))
