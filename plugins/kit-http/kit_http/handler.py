"""Handler: one route's serving logic, compiled once: read, decode, call, encode, send.

Everything that can be decided when the route is added is decided then (the decoder,
the encoder, which options exist), so serving a request is a straight line of plain
operations on the ASGI scope. Only routes with options pay for a ``Request`` object.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from asyncio import CancelledError, current_task, get_running_loop
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

import msgspec
from msgspec.structs import astuple

from kit_http.binding import Binding
from kit_http.body import (
    INCOMPLETE_BODY,
    INCOMPLETE_HEADERS,
    BodyWatch,
    Disconnected,
    read_more,
    too_large,
)
from kit_http.errors import UnsupportedMediaType
from kit_http.message import Request, Response
from kit_http.options import ServerOptions, default_error_encoder
from kit_http.streaming import serve_stream
from kitcore import context
from kitcore.asgi import Receive, Scope, Send
from kitcore.codec import DECODE_ERRORS, decode_failure
from kitcore.endpoint import Endpoint
from kitcore.errors import InvalidArgument, KitError

Decode: TypeAlias = Callable[[Request], Any]
"""An explicit decode function: the request (``request.body`` read) -> the endpoint's request."""

Encode: TypeAlias = Callable[[Any], "bytes | Response"]
"""An explicit encode function: the endpoint's response -> JSON bytes or a Response."""

TIMEOUT_HEADER = "Kit-Timeout"
"""Request header with the caller's remaining time in whole milliseconds."""

MAX_TIMEOUT_DIGITS = 12
"""A ``Kit-Timeout`` of more digits (over 31 years) is refused, not parsed."""

_CONTENT_TYPE_JSON = (b"content-type", b"application/json")
_log = logging.getLogger("kit_http")

# Python 3.10 and 3.11 implement asyncio.current_task in Python; its C-level table is read
# directly on the hot path there (3.12+ has a C current_task, used as is).
_CURRENT_TASKS = (
    getattr(asyncio.tasks, "_current_tasks", None) if inspect.isfunction(current_task) else None
)


def _json_encode() -> Callable[[Any], bytes]:
    return msgspec.json.Encoder().encode


class Handler:
    """Serves one route: an endpoint, how to decode its request and encode its response."""

    def __init__(
        self,
        endpoint: Endpoint,
        options: ServerOptions,
        watch: BodyWatch,
        *,
        binding: Binding | None = None,
        decode: Decode | None = None,
        encode: Encode | None = None,
        request_type: Any = None,
        reads_body: bool = True,
        method: Callable[..., Awaitable[Any]] | None = None,
        name: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        # A service method with no middleware is called straight from the request Struct's
        # fields, saving the endpoint wrapper's frame on the hot path.
        self.method = method
        self.options = options
        self.watch = watch
        self.binding = binding
        self.user_decode = decode
        self.decode_is_async = decode is not None and inspect.iscoroutinefunction(decode)
        # The fast path: the whole body is the request, decoded by one msgspec call.
        self.decode_bytes: Callable[[bytes], Any] | None = None
        # A method that yields answers newline-delimited JSON (kit_http.streaming).
        self.streaming = binding is not None and binding.method.streaming
        if binding is not None and binding.direct:
            self.decode_bytes = binding.request_decoder.decode
            self.binding = None
        elif binding is None and decode is None:
            self.decode_bytes = msgspec.json.Decoder(
                request_type if request_type is not None else Any
            ).decode
        self.encode: Encode = encode or _json_encode()
        self.reads_body = reads_body if binding is None else binding.has_body
        self.max_body = options.max_body
        self.timeout = options.timeout
        self.before = options.before
        self.after = options.after
        self.finalizer = options.finalizer
        self.rejected = options.rejected
        self.accepted = frozenset(t.encode("latin-1") for t in options.content_types)
        self.accepted_text = frozenset(options.content_types)
        self.needs_request = options.needs_request or decode is not None
        # granian's RSGI interface serves this route directly (no ASGI adapter); a decode
        # function gets its Request built there.
        self.rsgi_fast = not options.needs_request and not self.streaming
        self.serve: Callable[[Scope, Receive, Send, Mapping[str, str] | None], Awaitable[int]]
        self.serve = self._serve_final if (self.finalizer or self.before) else self._serve

    async def _serve_final(
        self, scope: Scope, receive: Receive, send: Send, params: Mapping[str, str] | None
    ) -> int:
        request = Request(scope, params)
        start = time.perf_counter()
        status = 499  # nginx's "client closed request": no response was sent
        try:
            values: dict[str, Any] = {}
            try:
                for before in self.before:
                    found = before(request)
                    if found:
                        values.update(found)
            except Exception as exc:
                status = await self.fail(request, exc, send)
                return status
            if values:
                with context.bind(**values):
                    status = await self._serve(scope, receive, send, params, request)
            else:
                status = await self._serve(scope, receive, send, params, request)
            return status
        finally:
            seconds = time.perf_counter() - start
            for finalizer in self.finalizer:
                try:
                    finalizer(request, status, seconds)
                except Exception:
                    _log.exception("kit-http finalizer failed for %r", request)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        params: Mapping[str, str] | None,
        request: Request | None = None,
    ) -> int:
        if request is None and self.needs_request:
            request = Request(scope, params)
        timeout_header: bytes | None = None
        reached = False  # the endpoint was called: errors before are rejections
        try:
            body = b""
            if self.reads_body:
                content_type = length = None
                for name, value in scope["headers"]:
                    if name == b"content-type":
                        content_type = value
                    elif name == b"content-length":
                        length = value
                    elif name == b"kit-timeout":
                        timeout_header = value
                if content_type is not None and content_type not in self.accepted:
                    self.check_content_type(content_type)
                limit = self.max_body
                if length is not None:
                    try:
                        size = int(length)
                    except ValueError:
                        raise InvalidArgument("bad Content-Length header") from None
                    if size > limit:
                        raise too_large(limit)
                watch = self.watch
                tasks = _CURRENT_TASKS
                task = tasks.get(get_running_loop()) if tasks is not None else current_task()
                if task is not None:  # outside a Task (some embedders) there is no body timeout
                    watch.reading[task] = watch.tick
                    if watch.timer is None:
                        watch.arm()
                try:
                    message = await receive()
                    if message["type"] != "http.request":
                        raise Disconnected
                    body = message.get("body", b"")
                    if message.get("more_body", False):
                        body = await read_more(receive, body, limit)
                    elif len(body) > limit:
                        raise too_large(limit)
                except CancelledError:
                    if task is not None and watch.expired(task):
                        raise watch.timed_out() from None
                    raise
                finally:
                    if task is not None:
                        del watch.reading[task]
                if request is not None:
                    request.body = body
            else:
                for name, value in scope["headers"]:
                    if name == b"kit-timeout":
                        timeout_header = value
            try:
                if self.decode_bytes is not None:
                    decoded = self.decode_bytes(body or b"{}")
                elif self.binding is not None:
                    decoded = self.binding.decode(body, params, scope.get("query_string", b""))
                else:
                    assert self.user_decode is not None and request is not None
                    decoded = self.user_decode(request)
                    if self.decode_is_async:
                        decoded = await decoded
            except DECODE_ERRORS as exc:
                raise decode_failure(exc) from None
            reached = True
            if self.streaming:
                request = request or Request(scope, params)
                return await serve_stream(self, decoded, timeout_header, receive, send, request)
            if timeout_header is None and self.timeout is None:
                if self.method is not None:
                    result = await self.method(*astuple(decoded))
                else:
                    result = await self.endpoint(decoded)
            else:
                result = await self.call_bounded(decoded, timeout_header)
            out = self.encode(result)
            if type(out) is bytes and not self.after:
                headers = [_CONTENT_TYPE_JSON, (b"content-length", b"%d" % len(out))]
                status = 200
            else:
                response = out if isinstance(out, Response) else Response(bytes(out))
                for after in self.after:
                    after(request, response)  # type: ignore[arg-type]
                out, status, headers = response.body, response.status, response.raw_headers()
        except Disconnected:
            # Servers drop what is sent to a client that left; a half-closed one reads it.
            await send(
                {"type": "http.response.start", "status": 400, "headers": INCOMPLETE_HEADERS}
            )
            await send({"type": "http.response.body", "body": INCOMPLETE_BODY})
            return 499  # nginx's "client closed request", for finalizers
        except Exception as exc:
            request = request or Request(scope, params)
            if not reached and self.rejected is not None:
                try:
                    self.rejected(self.name, request, exc)
                except Exception:
                    _log.exception("kit-http rejected hook failed for %r", request)
            return await self.fail(request, exc, send)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})
        return status

    def check_content_type(self, value: bytes) -> None:
        """Raise UnsupportedMediaType unless ``value`` names JSON (or an accepted type)."""
        media = value.split(b";", 1)[0].strip().lower()
        if media and media not in self.accepted and not media.endswith(b"+json"):
            raise UnsupportedMediaType(
                f"unsupported content type {media.decode('latin-1')!r}: send application/json",
                details={"content_type": media.decode("latin-1")},
            )

    def call_bounded(self, decoded: Any, timeout_header: bytes | None) -> Awaitable[Any]:
        """The endpoint's call within the caller's deadline, capped by the server's timeout."""
        seconds = self.seconds(timeout_header)  # first: a bad header leaves no coroutine unawaited
        # As on the fast path: a plain service method is called straight from the fields.
        call = self.method(*astuple(decoded)) if self.method is not None else self.endpoint(decoded)
        return context.within(seconds, call)

    def seconds(self, timeout_header: bytes | None) -> float | None:
        """The time a call may take: the caller's ``Kit-Timeout``, capped by ``timeout``."""
        seconds = self.timeout
        if timeout_header is not None:
            # Plain ASCII digits only: int() would also take "+5", "1_000", " 7 ", and
            # 309 digits overflow the float division.
            if not timeout_header.isdigit() or len(timeout_header) > MAX_TIMEOUT_DIGITS:
                raise InvalidArgument(
                    f"bad {TIMEOUT_HEADER} header: want whole milliseconds, "
                    f"at most {MAX_TIMEOUT_DIGITS} digits",
                    details={"header": TIMEOUT_HEADER},
                )
            caller = int(timeout_header) / 1000
            seconds = caller if seconds is None else min(caller, seconds)
        return seconds

    async def fail(self, request: Request, error: BaseException, send: Send) -> int:
        """Report ``error`` to the error handler and send what the error encoder makes of it."""
        return await send_error(self.options, request, error, send)


async def send_error(
    options: ServerOptions, request: Request, error: BaseException, send: Send
) -> int:
    """Run the error handler and encoder of ``options`` for ``error``; return the status sent."""
    handler = options.error_handler
    if handler is not None:
        try:
            handler(request, error)
        except Exception:
            _log.exception("kit-http error handler failed for %r", request)
    elif not isinstance(error, KitError):
        _log.error("unexpected error serving %r", request, exc_info=error)
    try:
        response = options.error_encoder(request, error)
    except Exception:
        _log.exception("kit-http error encoder failed for %r", request)
        response = default_error_encoder(request, error)
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": response.raw_headers(),
        }
    )
    await send({"type": "http.response.body", "body": response.body})
    return response.status
