"""granian's RSGI interface for App: the same routes and semantics, granian's fast path.

granian serves ASGI apps through per-message dicts and futures; its own RSGI interface
hands the app the body and takes the response in one call each, about twice as fast.
``App`` implements both, so ``granian --interface rsgi module:app`` serves it unchanged.
Routes without options take a direct path here; the others (options, explicit decode
functions, errors before routing) run through the ASGI code with a small adapter, so
behaviour is identical either way. RSGI gives the path already percent-decoded, so a
path parameter cannot hold an encoded ``/`` there.
"""

from __future__ import annotations

import asyncio
from asyncio import CancelledError, current_task, get_running_loop
from typing import TYPE_CHECKING, Any

from msgspec.structs import astuple

from kit_http.body import INCOMPLETE_BODY, INCOMPLETE_HEADERS, Disconnected, too_large
from kit_http.handler import _CURRENT_TASKS, Handler, send_error
from kit_http.message import Request, Response
from kitcore.asgi import Message
from kitcore.codec import DECODE_ERRORS, decode_failure
from kitcore.errors import InvalidArgument

if TYPE_CHECKING:
    from kit_http.app import App

_JSON = [("content-type", "application/json")]
_INCOMPLETE = [
    (name.decode(), value.decode())
    for name, value in INCOMPLETE_HEADERS
    if name != b"content-length"
]


async def serve(app: App, scope: Any, protocol: Any) -> None:
    """Serve one RSGI request (granian's ``__rsgi__``); one frame on the direct path."""
    if scope.proto != "http":
        protocol.close(1003)  # websockets are not served
        return
    params = None
    methods = app._static.get(scope.path)
    if methods is None:
        found = app.router.match(scope.path)
        if found is not None:
            methods, params = found
    handler = methods.get(scope.method) if methods is not None else None
    if handler is None or not handler.rsgi_fast or app._draining:
        await app(asgi_scope(scope), _Receive(protocol), _Send(protocol))
        return
    app._inflight += 1
    try:
        headers = scope.headers
        timeout_header = headers.get("kit-timeout")
        body = b""
        if handler.reads_body:
            content_type = headers.get("content-type")
            if content_type is not None and content_type not in handler.accepted_text:
                handler.check_content_type(content_type.encode("latin-1"))
            body = await read_body(handler, protocol, headers.get("content-length"))
        try:
            if handler.decode_bytes is not None:
                decoded = handler.decode_bytes(body or b"{}")
            elif handler.user_decode is not None:
                request = Request(asgi_scope(scope), params)
                request.body = body
                decoded = handler.user_decode(request)
                if handler.decode_is_async:
                    decoded = await decoded
            else:
                assert handler.binding is not None
                query = scope.query_string.encode("latin-1")
                decoded = handler.binding.decode(body, params, query)
        except DECODE_ERRORS as exc:
            raise decode_failure(exc) from None
        if timeout_header is None and handler.timeout is None:
            if handler.method is not None:
                result = await handler.method(*astuple(decoded))
            else:
                result = await handler.endpoint(decoded)
        else:
            header = None if timeout_header is None else timeout_header.encode("latin-1")
            result = await handler.call_bounded(decoded, header)
        out = handler.encode(result)
        if type(out) is bytes:
            protocol.response_bytes(200, _JSON, out)
        else:
            response = out if isinstance(out, Response) else Response(bytes(out))
            protocol.response_bytes(response.status, _text_headers(response), response.body)
    except Disconnected:
        # Unanswered, granian would send a 500; a half-closed client reads this 400.
        protocol.response_bytes(400, _INCOMPLETE, INCOMPLETE_BODY)
    except Exception as exc:
        sender = _Send(protocol)
        await send_error(handler.options, Request(asgi_scope(scope), params), exc, sender)
    finally:
        app._inflight -= 1
        if app._draining and not app._inflight and app._idle is not None:
            app._idle.set()


async def read_body(handler: Handler, protocol: Any, length: str | None) -> bytes:
    """The whole body, within the handler's size limit and the app's body timeout."""
    limit = handler.max_body
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            raise InvalidArgument("bad Content-Length header") from None
        if size > limit:
            raise too_large(limit)
    watch = handler.watch
    tasks = _CURRENT_TASKS
    task = tasks.get(get_running_loop()) if tasks is not None else current_task()
    if task is not None:
        watch.reading[task] = watch.tick
        if watch.timer is None:
            watch.arm()
    try:
        if length is not None:
            return bytes(await protocol())
        chunks, size = [], 0
        async for chunk in protocol:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)
    except CancelledError:
        if task is not None and watch.expired(task):
            raise watch.timed_out() from None
        raise
    except Exception as exc:
        if _closed(exc):
            raise Disconnected from None
        raise
    finally:
        if task is not None:
            del watch.reading[task]


def _closed(exc: BaseException) -> bool:
    from granian._granian import RSGIProtocolClosed, RSGIProtocolError

    return isinstance(exc, RSGIProtocolClosed | RSGIProtocolError)


def _text_headers(response: Response) -> list[tuple[str, str]]:
    headers = [("content-type", response.content_type)] if response.content_type else []
    return headers + [(name.lower(), value) for name, value in response.headers]


def asgi_scope(scope: Any) -> dict[str, Any]:
    """The ASGI scope an RSGI scope stands for."""
    host, _, port = str(scope.client).rpartition(":")
    server_host, _, server_port = str(scope.server).rpartition(":")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": scope.http_version,
        "method": scope.method,
        "scheme": scope.scheme,
        "path": scope.path,
        "query_string": scope.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in scope.headers.items()
        ],
        "client": (host, int(port)) if port.isdigit() else None,
        "server": (server_host, int(server_port)) if server_port.isdigit() else None,
    }


class _Receive:
    """ASGI ``receive`` over an RSGI protocol: the body chunk by chunk."""

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._chunks = protocol.__aiter__()
        self._done = False

    async def __call__(self) -> dict[str, Any]:
        if self._done:
            # As ASGI servers do: after the body, receive waits for the client to leave
            # (a streaming reply watches for it).
            await self._protocol.client_disconnect()
            return {"type": "http.disconnect"}
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        except Exception as exc:
            if _closed(exc):
                self._done = True
                return {"type": "http.disconnect"}
            raise
        return {"type": "http.request", "body": bytes(chunk), "more_body": True}


class _Send:
    """ASGI ``send`` over an RSGI protocol: the start message is held until the body.

    A body sent in parts (``more_body``) goes out as granian's response stream.
    """

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._status = 200
        self._headers: list[tuple[str, str]] = []
        self._stream: Any = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._status = message["status"]
            self._headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in message.get("headers", ())
                if name.lower() != b"content-length"  # granian sets it
            ]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if self._stream is None and not message.get("more_body", False):
                self._protocol.response_bytes(self._status, self._headers, body)
                return
            if self._stream is None:  # a streamed body (kit_http.streaming): chunk by chunk
                self._stream = self._protocol.response_stream(self._status, self._headers)
            if body:
                try:
                    await self._stream.send_bytes(body)
                except Exception as exc:
                    if not _closed(exc):
                        raise
                    # As uvicorn does, what is sent to a client that left is dropped.


def init(app: App, loop: asyncio.AbstractEventLoop) -> None:
    """granian's ``__rsgi_init__``: run the app's start-up."""
    _run(app, loop, app.startup())


def close(app: App, loop: asyncio.AbstractEventLoop) -> None:
    """granian's ``__rsgi_del__``: drain and run the app's shutdown."""
    _run(app, loop, app.shutdown())


def _run(app: App, loop: asyncio.AbstractEventLoop, coro: Any) -> None:
    if loop.is_running():
        # granian's embedded server calls these from inside its running loop.
        task = loop.create_task(coro)
        app._background.add(task)
        task.add_done_callback(app._background.discard)
    else:
        loop.run_until_complete(coro)
