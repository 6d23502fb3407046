"""HTTP-only error kinds: the transport's own 4xx answers, each a kit InvalidArgument.

They are the caller's fault (not retried, not counted by breakers). 405 and 415 carry
their own truthful codes, ``method_not_allowed`` and ``unsupported_media_type``; a kit
client, which knows no such kind, raises the kind of the HTTP status: InvalidArgument.
408 and 413 keep ``invalid_argument`` (the request as sent was unusable).
"""

from __future__ import annotations

from kitcore.errors import Internal, InvalidArgument, NotFound


class RouteNotFound(NotFound):
    """No route matches the request path (404)."""


class MethodNotAllowed(InvalidArgument):
    """The path exists but not for this HTTP method (405, with ``Allow``)."""

    code = "method_not_allowed"
    http_status = 405


class RequestTimeout(InvalidArgument):
    """The client did not send the whole body in time (408)."""

    http_status = 408


class PayloadTooLarge(InvalidArgument):
    """The body is over the server's limit (413); the rest of it is not read."""

    http_status = 413


class UnsupportedMediaType(InvalidArgument):
    """The body's content type is not JSON (415)."""

    code = "unsupported_media_type"
    http_status = 415


class ReplyTooLarge(Internal):
    """A client-side error: the server's reply is over the client's ``max_reply`` bytes.

    Like any malformed reply it is the server's fault (Internal); the rest of the body
    is not read and the connection is closed.
    """
