"""The client side: endpoints that call a kit-http (or any JSON over HTTP) server.

``ClientEndpoint`` is Go kit's ``httptransport.NewClient``: one method and URL, an
encode and a decode function, and options (``before``, ``after``, ``finalizer``,
``timeout``). ``ServiceClient`` is what ``kitcore.client`` builds per instance of a typed
service. Both keep one pooled keep-alive aiohttp session per target (aiohttp measured
several times faster than httpx for this job: see the README and BENCHMARKS.md).

Errors come back typed: the server's ``{"code", "message", "details"}`` is raised as the
same KitError; a bare HTTP error status maps through ``from_http_status``; connection
failures are ``Unavailable`` and a passed deadline ``DeadlineExceeded``, which retries
and breakers understand. The caller's deadline is sent in the ``Kit-Timeout`` header.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeAlias

import aiohttp
import msgspec

from kit_http.binding import Binding
from kit_http.errors import ReplyTooLarge
from kit_http.handler import TIMEOUT_HEADER
from kit_http.ndjson import CONTENT_TYPE, LineReader, line_type
from kit_http.options import MIB
from kitcore import context
from kitcore.errors import (
    ERRORS,
    DeadlineExceeded,
    Internal,
    KitError,
    Unavailable,
    from_http_status,
)
from kitcore.errors import from_wire as error_from_wire
from kitcore.service import ServiceSpec
from kitcore.stream import Stream

KEEPALIVE = 4.0
"""Seconds an idle pooled connection is kept: under uvicorn's 5 s, so the server never
closes a connection the client is about to reuse."""

MAX_REPLY = MIB
"""Largest reply body read by default, in bytes: the server's default request limit."""


class OutgoingRequest:
    """A request about to be sent; ``before`` functions may edit its headers."""

    __slots__ = ("body", "headers", "method", "url")

    def __init__(self, method: str, url: str, headers: dict[str, str], body: bytes | None):
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"OutgoingRequest({self.method} {self.url})"


class Reply:
    """A response as read: status, headers and the whole body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Reply({self.status}, {len(self.body)} bytes)"


ClientBefore: TypeAlias = Callable[[OutgoingRequest], None]
"""Edits the outgoing request (headers) before it is sent."""
ClientAfter: TypeAlias = Callable[[Reply], None]
"""Reads the reply (headers) before it is decoded."""
ClientFinalizer: TypeAlias = Callable[[OutgoingRequest, int, float], None]
"""Sees every call's status (0: no response) and duration in seconds."""


def error_from_reply(reply: Reply) -> KitError:
    """The typed error a non-2xx reply stands for: its kit wire form, else its status."""
    try:
        wire = msgspec.json.decode(reply.body)
    except (msgspec.DecodeError, RecursionError):
        wire = None
    if isinstance(wire, dict) and isinstance(wire.get("code"), str):
        if wire["code"] in ERRORS or not 400 <= reply.status < 500:
            return error_from_wire(wire)
        # A transport's own code (method_not_allowed...): the kind of its status.
        error = from_http_status(reply.status, str(wire.get("message") or ""))
        details = wire.get("details")
        if isinstance(details, dict):
            error.details = details
        return error
    text = reply.body[:200].decode("utf-8", "replace").strip()
    return from_http_status(reply.status, f"HTTP {reply.status}: {text}" if text else "")


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return (value,) if callable(value) else tuple(value)


def base_url(instance: str) -> str:
    """``host:port`` or a URL -> the base URL with no trailing slash."""
    url = instance if "://" in instance else f"http://{instance}"
    return url.rstrip("/")


class Transport:
    """One target's pooled keep-alive connections, and the mapping of failures to kit errors."""

    def __init__(
        self,
        base: str,
        *,
        pool: int = 100,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        max_reply: int | None = MAX_REPLY,
    ) -> None:
        if max_reply is not None and max_reply < 0:
            raise ValueError(f"max_reply must be >= 0 or None, got {max_reply!r}")
        self.base = base_url(base)
        self.max_reply = max_reply
        """Largest reply body read, in bytes (None: any size); larger raise ReplyTooLarge."""
        self._pool = pool
        self._headers = dict(headers or {})
        self._session = session
        self._owned = session is None

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use (inside the running loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool, keepalive_timeout=KEEPALIVE, ttl_dns_cache=60
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers=self._headers,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        """Send one request and read the whole reply; connection failures raise Unavailable.

        A reply over ``max_reply`` bytes raises ReplyTooLarge, unread past the limit.
        """
        try:
            # Awaited and released by hand: ``async with`` costs two more coroutines a call.
            r = await self.session().request(method, url, data=body, headers=headers)
            try:
                limit = self.max_reply
                length = r.content_length
                if limit is None or (length is not None and length <= limit):
                    return Reply(r.status, r.headers, await r.read())
                return Reply(r.status, r.headers, await _read_within(r, limit, f"{method} {url}"))
            finally:
                r.release()
        except aiohttp.ClientConnectionError as exc:
            raise Unavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientPayloadError as exc:
            raise Unavailable(f"{method} {url}: broken response: {exc}") from exc
        except aiohttp.ClientResponseError as exc:
            raise Unavailable(f"{method} {url}: bad response: {exc.message}") from exc

    async def close(self) -> None:
        """Close the pooled connections (only those of a session this transport made)."""
        if self._owned and self._session is not None:
            await self._session.close()
        self._session = None


def deadline_headers(headers: dict[str, str], cap: float | None) -> tuple[float | None, bool]:
    """Add ``Kit-Timeout`` for the caller's deadline capped at ``cap``.

    Returns the seconds left (None: unbounded) and whether the cap is what bounds the
    call. Raises DeadlineExceeded when the deadline has already passed.
    """
    left = context.remaining()
    if cap is not None and (left is None or cap < left):
        headers[TIMEOUT_HEADER] = str(max(1, int(cap * 1000)))
        return cap, True
    if left is None:
        return None, False
    if left <= 0:
        raise DeadlineExceeded("deadline exceeded before the call was sent")
    headers[TIMEOUT_HEADER] = str(int(left * 1000) or 1)
    return left, False


def bounded(send: Awaitable[Reply], left: float | None, capped: bool) -> Awaitable[Reply]:
    """``send`` bounded by the caller's deadline, or by ``left`` when the cap bounds it."""
    # Not a coroutine itself: one frame fewer on every call.
    if left is None:
        return send
    if capped:
        return context.within(left, send)
    return context.enforce(send)


_JSON = {"Content-Type": "application/json"}


async def _read_within(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The body of ``response`` if it is at most ``limit`` bytes; else close it and raise."""
    length = response.content_length
    body = bytearray()
    if length is None or length <= limit:
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > limit:
                break
        else:
            return bytes(body)
    response.close()  # the unread rest makes the connection unusable
    raise ReplyTooLarge(
        f"reply to {what} is over the client's limit of {limit} bytes",
        details={"limit": limit},
    )


class ClientEndpoint:
    """An Endpoint calling one HTTP route: Go kit's ``httptransport.Client``.

    ``encode(request) -> bytes`` makes the body (JSON by default; None for no body);
    ``decode(reply) -> response`` reads a 2xx reply (JSON into ``response_type`` by
    default). A non-2xx reply raises its typed error before ``decode`` runs. ``timeout``
    caps every call; the caller's deadline bounds it too and is sent as ``Kit-Timeout``.
    A reply over ``max_reply`` bytes (1 MiB; None for any size) raises ReplyTooLarge.
    """

    def __init__(
        self,
        method: str,
        url: str,
        encode: Callable[[Any], bytes | None] | None = None,
        decode: Callable[[Reply], Any] | None = None,
        *,
        response_type: Any = Any,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        after: ClientAfter | Sequence[ClientAfter] | None = None,
        finalizer: ClientFinalizer | Sequence[ClientFinalizer] | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        pool: int = 100,
        max_reply: int | None = MAX_REPLY,
    ) -> None:
        self.method = method.upper()
        self.url = url
        self._encode = encode or msgspec.json.Encoder().encode
        if decode is None:
            decoder = msgspec.json.Decoder(response_type)

            def decode(reply: Reply) -> Any:
                return decoder.decode(reply.body)

        self._decode = decode
        self._before = _tuple(before)
        self._after = _tuple(after)
        self._finalizer = _tuple(finalizer)
        self._timeout = timeout
        self._headers = {**_JSON, **(headers or {})}
        self._transport = Transport(url, pool=pool, session=session, max_reply=max_reply)

    async def __call__(self, request: Any) -> Any:
        headers = dict(self._headers)
        left, capped = deadline_headers(headers, self._timeout)
        outgoing = OutgoingRequest(self.method, self.url, headers, self._encode(request))
        for before in self._before:
            before(outgoing)
        start = time.perf_counter()
        status = 0
        try:
            send = self._transport.send(outgoing.method, outgoing.url, headers, outgoing.body)
            reply = await bounded(send, left, capped)
            status = reply.status
            for after in self._after:
                after(reply)
            if not 200 <= reply.status < 300:
                raise error_from_reply(reply)
            try:
                return self._decode(reply)
            except msgspec.MsgspecError as exc:
                raise Internal(f"bad response from {self.url}: {exc}") from exc
        finally:
            if self._finalizer:
                seconds = time.perf_counter() - start
                for finalizer in self._finalizer:
                    finalizer(outgoing, status, seconds)

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._transport.close()


class ServiceClient:
    """The client Endpoint for one instance of a typed service: takes a ``kitcore.Call``.

    Each method goes to its route (``POST /<name>`` or its declared REST route) and its
    JSON reply is decoded into the method's return type; one over ``max_reply`` bytes
    (1 MiB; None for any size) raises ReplyTooLarge. A streaming method's call returns
    its ``kitcore.stream.Stream`` once the first item arrived (``kit_http.ndjson``); the
    limit then applies to each line.
    """

    def __init__(
        self,
        spec: ServiceSpec,
        instance: str,
        *,
        prefix: str = "",
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        pool: int = 100,
        max_reply: int | None = MAX_REPLY,
    ) -> None:
        self.spec = spec
        self._transport = Transport(
            instance, pool=pool, session=session, headers=headers, max_reply=max_reply
        )
        self._base = self._transport.base
        self._bindings = {name: Binding(m, prefix) for name, m in spec.methods.items()}
        self._lines = {
            name: msgspec.json.Decoder(line_type(m.response_type, f"{spec.name}.{name}.Line"))
            for name, m in spec.methods.items()
            if m.streaming
        }
        self._timeout = timeout

    async def __call__(self, call: Any) -> Any:
        binding = self._bindings[call.method.name]
        target, body = binding.encode(call.request)
        headers = dict(_JSON) if body is not None else {}
        left, capped = deadline_headers(headers, self._timeout)
        url = self._base + target
        if binding.method.streaming:
            opening = self._open_stream(binding, url, headers, body, left)
            with context.timeout(left):
                return await context.enforce(opening)
        send = self._transport.send(binding.route.method, url, headers, body)
        reply = await bounded(send, left, capped)
        if not 200 <= reply.status < 300:
            raise error_from_reply(reply)
        try:
            return binding.response_decoder.decode(reply.body)
        except msgspec.MsgspecError as exc:
            raise Internal(f"bad response from {url}: {exc}") from exc

    async def _open_stream(
        self,
        binding: Binding,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        left: float | None,
    ) -> Stream[Any]:
        """Send a streaming call; its Stream once the first item arrived (see kit_http.ndjson)."""
        deadline = None if left is None else time.monotonic() + left
        method = binding.route.method
        headers["Accept"] = CONTENT_TYPE
        what = f"{method} {url}"
        transport = self._transport
        try:
            response = await transport.session().request(method, url, data=body, headers=headers)
        except aiohttp.ClientError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        try:
            if not 200 <= response.status < 300:
                limit = transport.max_reply
                read = response.read() if limit is None else _read_within(response, limit, what)
                data = await read
                raise error_from_reply(Reply(response.status, response.headers, data))
            lines = LineReader(
                response,
                self._lines[binding.method.name],
                deadline=deadline,
                max_line=transport.max_reply,
                what=what,
            )
            try:
                first = await lines.read()
            except StopAsyncIteration:
                return Stream.empty()
        except BaseException:
            response.close()
            raise
        return Stream(lines.read, first, cancel=lines.cancel)

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._transport.close()


def client_factory(spec: ServiceSpec, instance: str, **options: Any) -> tuple[Any, Any]:
    """The ``http`` transport's factory: ``(ServiceClient, its close)`` for one instance."""
    endpoint = ServiceClient(spec, instance, **options)
    return endpoint, endpoint.close


__all__ = [
    "ClientAfter",
    "ClientBefore",
    "ClientEndpoint",
    "ClientFinalizer",
    "OutgoingRequest",
    "Reply",
    "ServiceClient",
    "Transport",
    "client_factory",
    "error_from_reply",
]
