"""Typed errors on the gRPC wire: a KitError as a status code plus google.rpc.Status details.

A kit error travels as its gRPC code and message, and as a ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer (the standard place every gRPC library reads rich
errors from). The Status carries one ``google.rpc.ErrorInfo`` with ``domain="kit"``,
``reason`` the kit wire code and ``metadata`` the error's details, each JSON-encoded so
that numbers and nested values come back with their types. A client that finds it raises
the same class with the same details; one that does not (a foreign server) maps the bare
code through ``kitcore.errors.from_grpc_code``. An unexpected exception is INTERNAL with
the text "internal error": its own text may hold secrets.
"""

from __future__ import annotations

from typing import Any

import grpc  # type: ignore[import-untyped]
import msgspec
from google.protobuf.any_pb2 import Any as AnyMessage  # type: ignore[import-untyped]
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from kitcore.errors import ERRORS, DeadlineExceeded, Internal, KitError, Unavailable, from_grpc_code

DETAILS_KEY = "grpc-status-details-bin"
"""The trailing metadata key holding the serialized ``google.rpc.Status``."""

DOMAIN = "kit"
"""``ErrorInfo.domain`` of the details kit writes."""

_CODES = {code.value[0]: code for code in grpc.StatusCode}
_ERROR_INFO = error_details_pb2.ErrorInfo.DESCRIPTOR.full_name


def wire_error(error: BaseException) -> KitError:
    """The typed error to send: a KitError as is, anything else as Internal with no text."""
    return error if isinstance(error, KitError) else Internal("internal error")


def status_code(error: KitError) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` of a kit error."""
    return _CODES.get(error.grpc_code, grpc.StatusCode.INTERNAL)


def status_details(error: KitError) -> bytes:
    """The serialized ``google.rpc.Status`` for ``error``, its details in an ErrorInfo."""
    info = error_details_pb2.ErrorInfo(
        reason=error.code,
        domain=DOMAIN,
        metadata={k: msgspec.json.encode(v).decode() for k, v in error.details.items()},
    )
    packed = AnyMessage()
    packed.Pack(info)
    status = status_pb2.Status(code=error.grpc_code, message=error.message, details=[packed])
    return bytes(status.SerializeToString())


def trailer(error: KitError) -> tuple[tuple[str, bytes], ...]:
    """The trailing metadata that carries ``error``'s details."""
    return ((DETAILS_KEY, status_details(error)),)


def _details_from(blob: bytes) -> tuple[type[KitError], str, dict[str, Any]] | None:
    try:
        status = status_pb2.Status.FromString(blob)
    except Exception:  # a foreign or broken trailer: fall back to the bare code
        return None
    for packed in status.details:
        if packed.TypeName() != _ERROR_INFO:
            continue
        info = error_details_pb2.ErrorInfo()
        if not packed.Unpack(info) or info.domain != DOMAIN:
            continue
        details: dict[str, Any] = {}
        for key, text in info.metadata.items():
            try:
                details[key] = msgspec.json.decode(text)
            except msgspec.DecodeError:
                details[key] = text
        return ERRORS.get(info.reason, Internal), status.message, details
    return None


def from_status(code: grpc.StatusCode, message: str, trailing: Any = None) -> KitError:
    """Rebuild the typed error from a call's status code, message and trailing metadata."""
    for key, value in trailing or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            found = _details_from(value)
            if found is not None:
                cls, text, details = found
                error = cls(text or message, details=details)
                # What a kit server chose to tell its callers, as from_wire marks it.
                error.remote = True
                return error
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(message or "deadline exceeded")
    if code is grpc.StatusCode.UNAVAILABLE:
        return Unavailable(message or "unavailable")
    if code is grpc.StatusCode.CANCELLED:
        return Unavailable(f"cancelled: {message}")
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return Unimplemented(message or "unimplemented")
    return from_grpc_code(code.value[0], message)


def from_rpc_error(exc: grpc.aio.AioRpcError) -> KitError:
    """The typed error a failed call stands for."""
    return from_status(exc.code(), exc.details() or "", exc.trailing_metadata())


class Unimplemented(KitError):
    """The server has no such method (gRPC UNIMPLEMENTED, HTTP 501)."""

    code = "unimplemented"
    http_status = 501
    grpc_code = 12
    caller_fault = True
