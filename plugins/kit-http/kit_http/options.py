"""Server options, as Go kit's ``httptransport.ServerOption``: all optional, all plain functions.

- ``before(request) -> Mapping | None``: read the request; the values returned are bound
  into ``kitcore.context`` for the call (Go kit's ServerBefore).
- ``after(request, response)``: edit the response (headers, status) once it is encoded
  (Go kit's ServerAfter).
- ``error_encoder(request, error) -> Response``: write an error (Go kit's ErrorEncoder);
  the default writes the typed error's HTTP status and its JSON wire form.
- ``error_handler(request, error)``: see every error, e.g. to log it (Go kit's ErrorHandler).
- ``finalizer(request, status, seconds)``: runs once per request, whatever happened
  (Go kit's ServerFinalizer).
- ``rejected(name, request, error)``: sees each request refused before its endpoint ran
  (a body that does not decode, too large, of the wrong type), with the route's name
  (the service method's): the endpoint's logging and metrics middleware never see
  these, so this is where they are logged and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

from kit_http.errors import MethodNotAllowed, PayloadTooLarge, RequestTimeout
from kit_http.message import Request, Response
from kitcore.codec import encode
from kitcore.errors import Internal, KitError

Before: TypeAlias = Callable[[Request], "Mapping[str, Any] | None"]
"""Reads the request; returns values to bind into ``kitcore.context`` (or None)."""

After: TypeAlias = Callable[[Request, Response], None]
"""Edits the encoded response before it is sent."""

ErrorEncoder: TypeAlias = Callable[[Request, BaseException], Response]
"""Turns an error into the response to send."""

ErrorHandler: TypeAlias = Callable[[Request, BaseException], None]
"""Sees every error (decode, endpoint, encode), e.g. to log it."""

Rejected: TypeAlias = Callable[[str, Request, BaseException], None]
"""Sees a request refused before its endpoint ran: the route's name, the request, the error."""

Finalizer: TypeAlias = Callable[[Request, int, float], None]
"""Sees every request's final status and duration in seconds."""

MIB = 1024 * 1024

DEFAULT_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
"""Accepted besides ``application/*+json`` and no content type at all.

``application/x-www-form-urlencoded`` is what ``curl -d`` sends by default, as in Go
kit's tutorial transcripts; the body is parsed as JSON whatever the label says.
"""


def wire_error(error: BaseException) -> KitError:
    """The typed error to put on the wire: a KitError as is, anything else as Internal.

    An unexpected exception's text is not sent: it may hold secrets; the error handler
    sees the original.
    """
    return error if isinstance(error, KitError) else Internal("internal error")


def default_error_encoder(request: Request, error: BaseException) -> Response:
    """Write the typed error's HTTP status and ``{"code", "message", "details"}``.

    A 429 or 503 whose details hold ``retry_after`` (a limiter's, an open breaker's) also
    gets a ``Retry-After`` header.
    """
    kit_error = wire_error(error)
    headers: list[tuple[str, str]] = []
    if isinstance(kit_error, MethodNotAllowed):
        headers.append(("allow", ", ".join(kit_error.details.get("allow", ()))))
    retry_after = kit_error.details.get("retry_after")
    if kit_error.http_status in (429, 503) and isinstance(retry_after, int | float):
        # RFC 9110 10.2.3: whole seconds; rounded up, so a client waiting that long is due.
        headers.append(("retry-after", str(max(0, math.ceil(retry_after)))))
    if isinstance(kit_error, PayloadTooLarge | RequestTimeout):
        # The unread rest of the body makes the connection unusable.
        headers.append(("connection", "close"))
    return Response(encode(kit_error.to_wire()), kit_error.http_status, headers)


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class ServerOptions:
    """Everything configurable about how a route is served; all fields optional."""

    before: tuple[Before, ...] = ()
    after: tuple[After, ...] = ()
    error_encoder: ErrorEncoder = default_error_encoder
    error_handler: ErrorHandler | None = None
    finalizer: tuple[Finalizer, ...] = ()
    rejected: Rejected | None = None
    """Called for each request refused before its endpoint ran (see the module's doc)."""
    max_body: int = MIB
    """Largest request body accepted, in bytes; larger ones get 413 unread."""
    timeout: float | None = None
    """Longest a call may run, in seconds; caps the caller's ``Kit-Timeout``."""
    content_types: tuple[str, ...] = field(default=DEFAULT_CONTENT_TYPES)
    """Media types accepted besides ``application/*+json`` and none."""

    @classmethod
    def build(cls, **options: Any) -> ServerOptions:
        """Build options from keywords; before/after/finalizer take one function or several."""
        return cls().merge(**options)

    def merge(self, **options: Any) -> ServerOptions:
        """Return a copy with ``options`` replacing these; unknown names raise TypeError."""
        changes: dict[str, Any] = {}
        for name, value in options.items():
            if name not in self.__dataclass_fields__:
                raise TypeError(f"unknown server option {name!r}")
            if name in ("before", "after", "finalizer"):
                value = _tuple(value)
            elif name == "content_types":
                value = tuple(str(v).lower() for v in _iter(value))
            elif name == "error_encoder" and value is None:
                value = default_error_encoder
            elif name == "max_body" and (not isinstance(value, int) or value < 0):
                raise ValueError(f"max_body must be a non-negative int, got {value!r}")
            elif name == "timeout" and value is not None and value <= 0:
                raise ValueError(f"timeout must be > 0, got {value!r}")
            changes[name] = value
        return replace(self, **changes) if changes else self

    @property
    def needs_request(self) -> bool:
        """True when some option reads the request, so the server must build one."""
        return bool(
            self.before
            or self.after
            or self.finalizer
            or self.error_handler is not None
            or self.rejected is not None
            or self.error_encoder is not default_error_encoder
        )


def _iter(value: Any) -> Iterable[Any]:
    return (value,) if isinstance(value, str) else value
