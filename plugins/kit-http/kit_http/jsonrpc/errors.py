"""JSON-RPC error objects and kit's typed errors, one mapping both ways.

The specification fixes five codes (-32700 parse, -32600 invalid request, -32601 method
not found, -32602 invalid params, -32603 internal) and leaves -32000..-32099 to the
server. A kit error raised by a method is written with code ``-32000 - grpc_code`` of
its kind (``invalid_argument`` -32003, ``not_found`` -32005, ``deadline_exceeded``
-32004, ...), except ``internal``, which is -32603; its kit wire form
``{"code", "message", "details"}`` goes in ``error.data``, so a kit client raises the same
class with the same fields. A peer that sends no kit form (Go kit) is read by its code.
"""

from __future__ import annotations

from typing import Any

from kitcore.errors import (
    ERRORS,
    Internal,
    InvalidArgument,
    KitError,
    NotFound,
    from_grpc_code,
    from_wire,
)

PARSE_ERROR = -32700
"""The body is not JSON."""
INVALID_REQUEST = -32600
"""The JSON is not a valid Request object."""
METHOD_NOT_FOUND = -32601
"""No such method."""
INVALID_PARAMS = -32602
"""The params do not fit the method."""
INTERNAL_ERROR = -32603
"""An unexpected failure in the server."""
SERVER_ERROR = -32000
"""Kit errors: ``SERVER_ERROR - grpc_code`` of their kind (-32001 .. -32016)."""


class ParseError(InvalidArgument):
    """The body is not valid JSON (-32700)."""

    jsonrpc_code = PARSE_ERROR


class InvalidRequest(InvalidArgument):
    """The JSON is not a Request object: no method, bad ``jsonrpc``, bad id (-32600)."""

    jsonrpc_code = INVALID_REQUEST


class MethodNotFound(NotFound):
    """The method does not exist (-32601)."""

    jsonrpc_code = METHOD_NOT_FOUND


class InvalidParams(InvalidArgument):
    """The params do not decode into the method's request (-32602)."""

    jsonrpc_code = INVALID_PARAMS


_STANDARD: dict[int, type[KitError]] = {
    cls.jsonrpc_code: cls for cls in (ParseError, InvalidRequest, MethodNotFound, InvalidParams)
}


def wire_error(error: BaseException) -> KitError:
    """The typed error to send: a KitError as is, anything else Internal with no text leaked."""
    return error if isinstance(error, KitError) else Internal("internal error")


def code_of(error: KitError) -> int:
    """The JSON-RPC code a kit error is sent with."""
    code = getattr(error, "jsonrpc_code", None)
    if isinstance(code, int):
        return code
    if isinstance(error, Internal):
        return INTERNAL_ERROR
    return SERVER_ERROR - error.grpc_code


def error_object(error: BaseException) -> dict[str, Any]:
    """The JSON-RPC ``error`` member for ``error``: code, message, and kit's form in ``data``."""
    kit = wire_error(error)
    return {"code": code_of(kit), "message": kit.message, "data": kit.to_wire()}


def from_error_object(obj: Any) -> KitError:
    """The typed exception a JSON-RPC ``error`` member stands for.

    Kit's form in ``data`` wins (the standard codes give their precise subclass, e.g.
    MethodNotFound, when it agrees with ``data``), with the server's fields unchanged.
    Otherwise the code decides: the standard ones, ``-32000 - grpc_code``, else
    Internal; then ``details`` carry ``jsonrpc_code`` and the peer's ``data``.
    """
    if not isinstance(obj, dict):
        return Internal(f"malformed JSON-RPC error: {obj!r}")
    code, message, data = obj.get("code"), obj.get("message"), obj.get("data")
    text = message if isinstance(message, str) else ""
    number = code if isinstance(code, int) and not isinstance(code, bool) else None
    standard = _STANDARD.get(number) if number is not None else None
    if isinstance(data, dict) and isinstance(data.get("code"), str) and data["code"] in ERRORS:
        error = from_wire(data)
        if standard is not None and issubclass(standard, type(error)):
            error = standard(error.message, details=error.details)
        return error
    if standard is not None:
        error = standard(text)
    elif number == INTERNAL_ERROR:
        error = Internal(text)
    elif number is not None and SERVER_ERROR - 16 <= number < SERVER_ERROR:
        error = from_grpc_code(SERVER_ERROR - number, text)
    else:
        error = Internal(text or "JSON-RPC error")
    if number is not None:
        error.details["jsonrpc_code"] = number
    if data is not None:
        error.details["data"] = data
    return error


__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "SERVER_ERROR",
    "InvalidParams",
    "InvalidRequest",
    "MethodNotFound",
    "ParseError",
    "code_of",
    "error_object",
    "from_error_object",
    "wire_error",
]
