"""The client: Go kit's ``natstransport.Publisher``, and the typed service client.

``Publisher(nc, "svc.uppercase")`` is an Endpoint: it encodes the request (JSON by
default), sends it with NATS request-reply and decodes the reply, raising the typed
error a failed call carries. ``ServiceClient`` is what ``kitcore.connect(Service,
"nats://host:4222/svc")`` builds: each method is a request to ``svc.<method>``.

The caller's deadline, capped by ``timeout``, travels in ``Kit-Timeout`` (time left
and its instant; the server enforces it too) and bounds the wait for the reply; an
unbounded call waits at most ``DEFAULT_TIMEOUT`` (NATS request-reply has no "wait for
ever"). No responders is ``Unavailable``; no reply in time ``DeadlineExceeded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from kit_nats.connection import open_connection
from kit_nats.errors import FAILURES, from_nats
from kit_nats.url import split
from kitcore.errors import Internal
from kitcore.messaging.rpc import ClientCodec, raise_for_reply, request_headers
from kitcore.service import ServiceSpec

DEFAULT_TIMEOUT = 30.0
"""Seconds an unbounded call waits for its reply."""

ClientBefore: TypeAlias = Callable[[dict[str, str]], None]
"""Edits the outgoing request's headers."""
ClientAfter: TypeAlias = Callable[[Msg], None]
"""Reads the reply message (headers) before it is decoded."""


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return (value,) if callable(value) else tuple(value)


async def _request(
    nc: Client, subject: str, body: bytes, headers: dict[str, str], left: float | None
) -> Msg:
    try:
        wait = DEFAULT_TIMEOUT if left is None else left
        return await nc.request(subject, body, timeout=wait, headers=headers or None)
    except FAILURES as exc:
        raise from_nats(exc, f"request to {subject}") from exc


class Publisher:
    """An Endpoint sending each request to one subject and decoding its reply."""

    def __init__(
        self,
        nc: Client,
        subject: str,
        encode: Callable[[Any], bytes] | None = None,
        decode: Callable[[Msg], Any] | None = None,
        *,
        response_type: Any = Any,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        after: ClientAfter | Sequence[ClientAfter] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.nc = nc
        self.subject = subject
        self._encode = encode or msgspec.json.Encoder().encode
        if decode is None:
            decoder = msgspec.json.Decoder(response_type)

            def decode(msg: Msg) -> Any:
                return decoder.decode(msg.data)

        self._decode = decode
        self._before = _tuple(before)
        self._after = _tuple(after)
        self._timeout = timeout

    async def __call__(self, request: Any) -> Any:
        headers, left = request_headers(None, self._timeout)
        for before in self._before:
            before(headers)
        reply = await _request(self.nc, self.subject, self._encode(request), headers, left)
        for after in self._after:
            after(reply)
        raise_for_reply(reply.headers, reply.data)
        try:
            return self._decode(reply)
        except msgspec.MsgspecError as exc:
            raise Internal(f"bad reply from {self.subject}: {exc}") from exc


class ServiceClient:
    """The client Endpoint for a typed service at ``subject``: takes a ``kitcore.Call``.

    Connects on first use (inside the running loop); ``close()`` drains the connection.
    ``headers`` go with every request; ``before`` functions edit each request's headers
    (``kitcore.connect(..., before=...)``: the hook a tracer injects its context with).
    """

    def __init__(
        self,
        spec: ServiceSpec,
        server: str,
        subject: str,
        *,
        timeout: float | None = None,
        nc: Client | None = None,
        headers: Mapping[str, str] | None = None,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        **connect_options: Any,
    ) -> None:
        if not subject:
            raise ValueError(
                f"no subject in the target for {spec.name}: want nats://host:port/subject"
            )
        self.spec = spec
        self.server = server
        self.subject = subject
        self._codec = ClientCodec(spec)
        self._timeout = timeout
        self._headers = dict(headers or {})
        self._before = _tuple(before)
        self._nc = nc
        self._owned = nc is None
        self._connect_options = connect_options
        self._lock = asyncio.Lock()

    async def connection(self) -> Client:
        """The NATS connection, opened on first use."""
        if self._nc is None:
            async with self._lock:
                if self._nc is None:
                    try:
                        self._nc = await open_connection(self.server, **self._connect_options)
                    except FAILURES as exc:
                        raise from_nats(exc, f"connect to {self.server}") from exc
        return self._nc

    async def __call__(self, call: Any) -> Any:
        name = call.method.name
        headers, left = request_headers(None, self._timeout)  # the subject names it
        if self._headers:
            headers.update(self._headers)
        for edit in self._before:  # per call: where trace context is injected
            edit(headers)
        nc = self._nc or await self.connection()
        body = msgspec.json.encode(call.request)
        reply = await _request(nc, f"{self.subject}.{name}", body, headers, left)
        return self._codec.decode(name, reply.headers, reply.data)

    async def close(self) -> None:
        """Close the connection (only one this client opened)."""
        nc, self._nc = self._nc, None
        if nc is not None and self._owned and not nc.is_closed:
            await nc.close()


def client_factory(spec: ServiceSpec, instance: str, **options: Any) -> tuple[Any, Any]:
    """``kitcore.connect``'s factory: ``instance`` is ``host:port/subject``."""
    server, subject = split(instance)
    client = ServiceClient(spec, server, subject, **options)
    return client, client.close
