"""Server: JSON-RPC 2.0 over HTTP for kit services and endpoint sets (Go kit's jsonrpc.Server).

One ``Server`` holds the procedures by method name; it is served as a route of a kit-http
``App`` (``mount``, or ``app`` for a standalone one), so body limits (413), body
timeouts (408), content types (415), the ``Kit-Timeout`` deadline, server options
(``before``, ``after``, ``finalizer``), draining and every ASGI server work exactly as for
kit-http's own routes. The route reads the body and hands it to the Server, which answers
the specification in full where Go kit does not: batches (run concurrently, answered in
one array), notifications (never answered; a body of only notifications gets 204 and no
body), the ``jsonrpc`` member checked (``"2.0"``, or the ``""`` Go kit's client sends),
ids echoed byte for byte, the five standard error codes, and kit's typed errors in
``error.data``. JSON-RPC errors travel with HTTP 200; only refusals of the HTTP request
itself (413, 415, 408, 405, 404, 503, and 504 when its deadline passes) use an HTTP
status, with a JSON-RPC error (id null) as the body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from kit_http.app import App
from kit_http.jsonrpc import message
from kit_http.jsonrpc.errors import (
    INVALID_REQUEST,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
)
from kit_http.jsonrpc.message import Envelope
from kit_http.jsonrpc.procedure import EndpointCodec, procedures
from kit_http.message import Request, Response
from kit_http.options import default_error_encoder
from kitcore.codec import DECODE_ERRORS, decode_failure
from kitcore.endpoint import Middleware
from kitcore.errors import KitError

DEFAULT_MAX_BATCH = 1000
"""Most requests one batch may hold; a larger batch is one Invalid Request error."""

ErrorHandler = Callable[[str, BaseException], None]
"""Sees every error a method call ends with: ``(method, error)``."""

_log = logging.getLogger("kit_http.jsonrpc")


def _request_body(request: Request) -> bytes:
    return request.body


def _as_is(response: Response) -> Response:
    return response


def error_encoder(request: Request, error: BaseException) -> Response:
    """kit-http's status and headers for a refused HTTP request, a JSON-RPC error as body.

    The caller's refusals (4xx) are Invalid Request (-32600); the others keep their
    kind's code (503 draining -32014, 504 deadline -32004).
    """
    response = default_error_encoder(request, error)
    code = INVALID_REQUEST if response.status < 500 else None
    response.body = message.error(error, code=code)
    return response


class Server:
    """JSON-RPC procedures by method name, dispatching request bodies (an Endpoint of bytes).

    ``targets`` are typed service instances (every method by its wire name, params by
    name or position) and mappings of name -> Endpoint or ``EndpointCodec``.
    ``error_handler(method, error)`` sees every failed call (unexpected errors are
    logged when there is none); ``max_batch`` bounds a batch's length.
    """

    def __init__(
        self,
        *targets: object,
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        error_handler: ErrorHandler | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch!r}")
        self.procedures: dict[str, EndpointCodec] = {}
        self.max_batch = max_batch
        self.error_handler = error_handler
        for target in targets:
            self.add(target, middleware=middleware, named_middleware=named_middleware)

    def add(
        self,
        target: object,
        *,
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
    ) -> Server:
        """Add a service instance or a mapping of name -> Endpoint/EndpointCodec."""
        for name, codec in procedures(target, middleware, named_middleware).items():
            if name in self.procedures:
                raise ValueError(f"JSON-RPC method {name!r} is defined twice")
            self.procedures[name] = codec
        return self

    def mount(self, app: App, path: str = "/", **options: Any) -> App:
        """Serve these procedures at ``POST path`` of a kit-http App; ``options`` are the
        route's server options (``before``, ``after``, ``finalizer``, ``max_body``,
        ``timeout``, ...). Returns the app."""
        options.setdefault("error_encoder", error_encoder)
        return app.route(f"POST {path}", self, decode=_request_body, encode=_as_is, **options)

    async def __call__(self, body: bytes) -> Response:
        try:
            decoded = message.BODY_DECODER.decode(body)
        except msgspec.ValidationError:
            return self._reply(message.error(InvalidRequest("want a request object or a batch")))
        except DECODE_ERRORS as exc:
            reason = decode_failure(exc).details.get("reason", "JSON nested too deeply")
            parse = ParseError(f"parse error: {reason}", details={"reason": reason})
            return self._reply(message.error(parse))
        if isinstance(decoded, Envelope):
            return self._reply(await self.call(decoded))
        if not decoded:
            return self._reply(message.error(InvalidRequest("empty batch")))
        if len(decoded) > self.max_batch:
            too_long = InvalidRequest(
                f"batch of {len(decoded)} is over {self.max_batch}",
                details={"max_batch": self.max_batch},
            )
            return self._reply(message.error(too_long))
        replies = await asyncio.gather(*(self._member(raw) for raw in decoded))
        answered = [r for r in replies if r is not None]
        return self._reply(b"[" + b",".join(answered) + b"]" if answered else None)

    @staticmethod
    def _reply(body: bytes | None) -> Response:
        # A new Response each time: ``after`` options may edit it.
        return Response(b"", 204, content_type=None) if body is None else Response(body)

    async def _member(self, raw: msgspec.Raw) -> bytes | None:
        try:
            envelope = message.ENVELOPE_DECODER.decode(raw)
        except msgspec.ValidationError:
            return message.error(InvalidRequest("a batch member must be a request object"))
        return await self.call(envelope)

    async def call(self, envelope: Envelope) -> bytes | None:
        """Answer one request object: the response's bytes, or None for a notification."""
        id_ = envelope.id
        notification = id_ is msgspec.UNSET
        if not notification and not message.valid_id(id_):  # type: ignore[arg-type]
            return message.error(InvalidRequest("id must be a string, a number or null"))
        reply_id: msgspec.Raw = message.NULL if notification else id_  # type: ignore[assignment]
        method = envelope.method
        try:
            codec = self._procedure(envelope)
            params = b"" if envelope.params is msgspec.UNSET else bytes(envelope.params)
            try:
                request = codec.decode(params)
            except DECODE_ERRORS as exc:
                failure = decode_failure(exc)
                text = failure.message.removeprefix("invalid request: ")
                raise InvalidParams(f"invalid params: {text}", details=failure.details) from None
            value = codec.encode(await codec.endpoint(request))
        except Exception as exc:
            self._report(method if isinstance(method, str) else "", exc)
            return None if notification else message.error(exc, reply_id)
        return None if notification else message.result(value, reply_id)

    def _procedure(self, envelope: Envelope) -> EndpointCodec:
        version, method, params = envelope.jsonrpc, envelope.method, envelope.params
        if not isinstance(version, str) or version not in message.ACCEPTED_VERSIONS:
            raise InvalidRequest('"jsonrpc" must be "2.0"')
        if not isinstance(method, str):
            raise InvalidRequest('"method" must be a string')
        if params is not msgspec.UNSET and bytes(params)[:1] not in (b"{", b"["):
            raise InvalidRequest('"params" must be an object or an array')
        codec = self.procedures.get(method)
        if codec is None:
            raise MethodNotFound(f"method {method!r} not found", details={"method": method})
        return codec

    def _report(self, method: str, error: BaseException) -> None:
        if self.error_handler is not None:
            try:
                self.error_handler(method, error)
            except Exception:
                _log.exception("JSON-RPC error handler failed for %r", method)
        elif not isinstance(error, KitError):
            _log.error("unexpected error in JSON-RPC method %r", method, exc_info=error)


def app(
    *targets: object,
    path: str = "/",
    middleware: Middleware | None = None,
    named_middleware: Callable[[str], Middleware] | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    error_handler: ErrorHandler | None = None,
    **options: Any,
) -> App:
    """A kit-http App serving ``targets`` over JSON-RPC at ``POST path`` (and nothing else).

    ``options`` go to the App (``body_timeout``, ``shutdown_timeout``, ``on_startup``,
    ``on_shutdown``, and server options such as ``max_body`` and ``timeout``); its own
    refusals (404, 405, 503) are JSON-RPC errors too.
    """
    if len(targets) == 1 and isinstance(targets[0], Server):
        server = targets[0]
    else:
        server = Server(
            *targets,
            middleware=middleware,
            named_middleware=named_middleware,
            max_batch=max_batch,
            error_handler=error_handler,
        )
    options.setdefault("error_encoder", error_encoder)
    return server.mount(App(**options), path)


_SERVE_OPTIONS = ("server", "log_level", "started")


async def serve(target: object, url: str, **options: Any) -> None:
    """Serve ``target`` over JSON-RPC at ``url`` (``jsonrpc://HOST:PORT/PATH``) until stopped.

    ``target`` is an App (served as is), a Server, a service instance or an endpoint set;
    ``server``, ``log_level`` and ``started`` go to ``kit_http.serve.serve``, the other
    options to ``app``.
    """
    from kit_http.serve import serve as serve_http

    address = url.split("://", 1)[1] if "://" in url else url
    listen, _, path = address.partition("/")
    running = {k: options.pop(k) for k in _SERVE_OPTIONS if k in options}
    served = target if isinstance(target, App) else app(target, path=f"/{path}", **options)
    await serve_http(served, listen, **running)
