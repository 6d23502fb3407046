"""The typed error model: one small taxonomy shared by every transport.

An error raised by a service on the server is written on the wire as
``{"code", "message", "details"}`` with a fixed HTTP status and gRPC code, and raised
again on the client as the same exception type. ``caller_fault`` marks the kinds that
are the caller's own doing: breakers do not count them and retries do not repeat them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class KitError(Exception):
    """Base of kit's typed errors; subclasses fix the code, HTTP status and gRPC code."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    grpc_code: ClassVar[int] = 13
    caller_fault: ClassVar[bool] = False

    def __init__(self, message: str = "", *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message or self.code.replace("_", " "))
        self.message = message or self.code.replace("_", " ")
        self.details: dict[str, Any] = dict(details or {})
        self.remote = False
        """True when rebuilt from a peer's wire form: the message is what the peer chose to
        tell its callers, not a detail of this process (an address, a library error)."""

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON wire form: ``{"code", "message", "details"}``."""
        return {"code": self.code, "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidArgument(KitError):
    """The request is malformed or fails validation (HTTP 400, gRPC INVALID_ARGUMENT)."""

    code = "invalid_argument"
    http_status = 400
    grpc_code = 3
    caller_fault = True


class NotFound(KitError):
    """The requested entity does not exist (HTTP 404, gRPC NOT_FOUND)."""

    code = "not_found"
    http_status = 404
    grpc_code = 5
    caller_fault = True


class AlreadyExists(KitError):
    """The entity the caller tried to create exists already (HTTP 409, gRPC ALREADY_EXISTS)."""

    code = "already_exists"
    http_status = 409
    grpc_code = 6
    caller_fault = True


class Unauthenticated(KitError):
    """The caller is not authenticated (HTTP 401, gRPC UNAUTHENTICATED)."""

    code = "unauthenticated"
    http_status = 401
    grpc_code = 16
    caller_fault = True


class PermissionDenied(KitError):
    """The caller may not do this (HTTP 403, gRPC PERMISSION_DENIED)."""

    code = "permission_denied"
    http_status = 403
    grpc_code = 7
    caller_fault = True


class ResourceExhausted(KitError):
    """A quota or rate limit is exhausted (HTTP 429, gRPC RESOURCE_EXHAUSTED).

    ``details["retry_after"]`` (seconds), when set, says when to try again. Not the
    caller's fault: another instance, or the same one later, may accept the call.
    """

    code = "resource_exhausted"
    http_status = 429
    grpc_code = 8

    def __init__(
        self,
        message: str = "",
        *,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, details=details)
        if retry_after is not None:
            self.details["retry_after"] = retry_after

    @property
    def retry_after(self) -> float | None:
        """Seconds after which the caller may try again, when known."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class FailedPrecondition(KitError):
    """The system is not in the state the operation needs (HTTP 400, gRPC FAILED_PRECONDITION)."""

    code = "failed_precondition"
    http_status = 400
    grpc_code = 9
    caller_fault = True


class Unavailable(KitError):
    """The service cannot be reached or is refusing calls; retrying may help (HTTP 503)."""

    code = "unavailable"
    http_status = 503
    grpc_code = 14


class DeadlineExceeded(KitError):
    """The call's deadline passed before it finished (HTTP 504, gRPC DEADLINE_EXCEEDED)."""

    code = "deadline_exceeded"
    http_status = 504
    grpc_code = 4


class Internal(KitError):
    """An unexpected failure on the server (HTTP 500, gRPC INTERNAL)."""

    code = "internal"
    http_status = 500
    grpc_code = 13


ERRORS: dict[str, type[KitError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        Unauthenticated,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Unavailable,
        DeadlineExceeded,
        Internal,
    )
}
"""Every error kind by its wire code."""

_BY_GRPC = {cls.grpc_code: cls for cls in ERRORS.values()}
_BY_HTTP = {
    400: InvalidArgument,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: AlreadyExists,
    429: ResourceExhausted,
    502: Unavailable,
    503: Unavailable,
    504: DeadlineExceeded,
}


def from_wire(obj: Any) -> KitError:
    """Rebuild the typed exception from its wire form; unknown or malformed forms are Internal."""
    if not isinstance(obj, Mapping):
        return Internal(f"malformed error: {obj!r}")
    cls = ERRORS.get(str(obj.get("code")), Internal)
    details = obj.get("details")
    message = obj.get("message")
    error = cls(
        message if isinstance(message, str) else "",
        details=details if isinstance(details, Mapping) else None,
    )
    error.remote = True
    return error


def from_http_status(status: int, message: str = "") -> KitError:
    """Return the error kind a bare HTTP error status stands for (no kit wire body)."""
    cls = _BY_HTTP.get(status)
    if cls is None:
        cls = InvalidArgument if 400 <= status < 500 else Internal
    return cls(message or f"HTTP {status}")


def from_grpc_code(code: int, message: str = "") -> KitError:
    """Return the error kind a gRPC status code stands for."""
    return _BY_GRPC.get(code, Internal)(message)


def kind(error: BaseException | None) -> str:
    """Return the error's wire code for labels and logs: ``"none"`` for no error."""
    if error is None:
        return "none"
    if isinstance(error, KitError):
        return error.code
    return Internal.code


def is_caller_fault(error: BaseException) -> bool:
    """True when the error is the caller's own doing: not to be retried or counted by breakers."""
    return isinstance(error, KitError) and error.caller_fault
