"""The client side: endpoints calling a JSON-RPC 2.0 server (kit's, Go kit's or any other).

``ClientEndpoint`` is Go kit's ``jsonrpc.NewClient``: one method at one URL, an encode
function (request -> params JSON) and a decode function (result JSON -> response), ids
counting up from 0. ``ServiceClient`` is what ``kitcore.connect(Service,
"jsonrpc://host:port/path")`` builds per instance: each method by its wire name, params
by name, the result decoded into the method's return type. Both send over kit-http's
pooled aiohttp ``Transport`` with the caller's deadline in ``Kit-Timeout``.

A JSON-RPC error is raised as the typed kit error it carries (``kit_http.jsonrpc.errors``);
a response that is not JSON-RPC is an Internal error, a failed connection Unavailable.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
import msgspec

from kit_http.client import (
    ClientAfter,
    ClientBefore,
    ClientFinalizer,
    OutgoingRequest,
    Reply,
    Transport,
    _tuple,
    bounded,
    deadline_headers,
    error_from_reply,
)
from kit_http.jsonrpc import message
from kit_http.jsonrpc.errors import from_error_object
from kitcore.codec import DECODE_ERRORS
from kitcore.errors import Internal
from kitcore.service import ServiceSpec

_JSON = {"Content-Type": "application/json"}


def read_result(reply: Reply, url: str, id_: int | None) -> bytes:
    """The raw ``result`` of a reply to request ``id_``; its error raised, typed."""
    try:
        decoded = message.REPLY_DECODER.decode(reply.body)
    except DECODE_ERRORS:
        if not 200 <= reply.status < 300:
            raise error_from_reply(reply) from None
        raise Internal(f"bad JSON-RPC response from {url}: not JSON-RPC") from None
    if isinstance(decoded, list):
        raise Internal(f"bad JSON-RPC response from {url}: a batch for one request")
    if decoded.error is not msgspec.UNSET and decoded.error is not None:
        raise from_error_object(decoded.error)
    if not 200 <= reply.status < 300:
        raise error_from_reply(reply)
    if decoded.result is msgspec.UNSET:
        raise Internal(f"bad JSON-RPC response from {url}: no result")
    if decoded.id != id_:
        raise Internal(f"bad JSON-RPC response from {url}: id {decoded.id!r}, want {id_!r}")
    return bytes(decoded.result)


class _Caller:
    """One target's transport, and the round trip of one request body."""

    def __init__(
        self,
        url: str,
        timeout: float | None,
        headers: Mapping[str, str] | None,
        session: aiohttp.ClientSession | None,
        pool: int,
    ) -> None:
        self._transport = Transport(url, pool=pool, session=session)
        self.url = self._transport.base
        self._headers = {**_JSON, **(headers or {})}
        self._timeout = timeout
        self._ids = itertools.count()

    def next_id(self) -> int:
        """The next request id (0, 1, 2, ... per client, as Go kit's)."""
        return next(self._ids)

    async def send(self, outgoing: OutgoingRequest, left: float | None, capped: bool) -> Reply:
        """Post ``outgoing`` within the deadline."""
        send = self._transport.send("POST", outgoing.url, outgoing.headers, outgoing.body)
        return await bounded(send, left, capped)

    def outgoing(self, body: bytes) -> tuple[OutgoingRequest, float | None, bool]:
        """The request to post, with the deadline header and the seconds left."""
        headers = dict(self._headers)
        left, capped = deadline_headers(headers, self._timeout)
        return OutgoingRequest("POST", self.url, headers, body), left, capped

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._transport.close()


class ClientEndpoint:
    """An Endpoint calling one JSON-RPC method at ``url``: Go kit's ``jsonrpc.Client``.

    ``encode(request) -> bytes | None`` makes the params (JSON; None sends none);
    ``decode(result) -> response`` reads the raw result JSON (into ``response_type`` by
    default). ``before`` edits the outgoing request, ``after`` sees the HTTP reply,
    ``finalizer(request, status, seconds)`` sees every call; ``timeout`` caps each call.
    """

    def __init__(
        self,
        url: str,
        method: str,
        encode: Callable[[Any], bytes | None] | None = None,
        decode: Callable[[bytes], Any] | None = None,
        *,
        response_type: Any = Any,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        after: ClientAfter | Sequence[ClientAfter] | None = None,
        finalizer: ClientFinalizer | Sequence[ClientFinalizer] | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        pool: int = 100,
    ) -> None:
        self.method = method
        self._caller = _Caller(url, timeout, headers, session, pool)
        self.url = self._caller.url
        self._encode = encode or msgspec.json.Encoder().encode
        self._decode = decode or msgspec.json.Decoder(response_type).decode
        self._before = _tuple(before)
        self._after = _tuple(after)
        self._finalizer = _tuple(finalizer)

    async def __call__(self, request: Any) -> Any:
        id_ = self._caller.next_id()
        reply = await self._post(message.request(self.method, self._encode(request), id_))
        result = read_result(reply, self.url, id_)
        try:
            return self._decode(result)
        except msgspec.MsgspecError as exc:
            raise Internal(f"bad result from {self.url}: {exc}") from exc

    async def notify(self, request: Any) -> None:
        """Send ``request`` as a notification: no id, no answer but the HTTP status."""
        reply = await self._post(message.request(self.method, self._encode(request), None))
        if not 200 <= reply.status < 300:
            read_result(reply, self.url, None)

    async def _post(self, body: bytes) -> Reply:
        outgoing, left, capped = self._caller.outgoing(body)
        for before in self._before:
            before(outgoing)
        start = time.perf_counter()
        status = 0
        try:
            reply = await self._caller.send(outgoing, left, capped)
            status = reply.status
            for after in self._after:
                after(reply)
            return reply
        finally:
            if self._finalizer:
                seconds = time.perf_counter() - start
                for finalizer in self._finalizer:
                    finalizer(outgoing, status, seconds)

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._caller.close()


class ServiceClient:
    """The client Endpoint for one instance of a typed service: takes a ``kitcore.Call``.

    ``instance`` is ``host:port``, ``host:port/path`` or a URL; ``path`` (for instances
    found by discovery, which carry none) is appended to it.
    """

    def __init__(
        self,
        spec: ServiceSpec,
        instance: str,
        *,
        path: str = "",
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        pool: int = 100,
    ) -> None:
        self.spec = spec
        target = instance if "://" in instance else f"http://{instance}"
        self._caller = _Caller(target.rstrip("/") + path, timeout, headers, session, pool)
        self.url = self._caller.url
        self._decoders = {
            name: msgspec.json.Decoder(m.response_type).decode for name, m in spec.methods.items()
        }
        self._encode = msgspec.json.Encoder().encode

    async def __call__(self, call: Any) -> Any:
        name = call.method.name
        id_ = self._caller.next_id()
        outgoing, left, capped = self._caller.outgoing(
            message.request(name, self._encode(call.request), id_)
        )
        result = read_result(await self._caller.send(outgoing, left, capped), self.url, id_)
        try:
            return self._decoders[name](result)
        except msgspec.MsgspecError as exc:
            raise Internal(f"bad result from {self.url}: {exc}") from exc

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._caller.close()


def client_factory(spec: ServiceSpec, instance: str, **options: Any) -> tuple[Any, Any]:
    """The ``jsonrpc`` transport's factory: ``(ServiceClient, its close)`` for one instance."""
    endpoint = ServiceClient(spec, instance, **options)
    return endpoint, endpoint.close


__all__ = ["ClientEndpoint", "ServiceClient", "client_factory", "read_result"]
