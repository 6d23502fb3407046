"""The client: Go kit's ``amqptransport.Publisher``, and the typed service client.

``Publisher(connection, "svc", "uppercase")`` is an Endpoint: it publishes the request
to the queue with ``reply_to`` (this client's exclusive reply queue) and a fresh
``correlation_id``, and waits for the matching reply, raising the typed error a failed
call carries. ``ServiceClient`` is what ``kitcore.connect(Service,
"amqp://guest:guest@host:5672/svc")`` builds: every method goes to queue ``svc`` with
its name in ``Kit-Method``.

The caller's deadline, capped by ``timeout``, travels in ``Kit-Timeout`` (time left
and its instant; the server enforces it too) and as the request's AMQP
``expiration`` (a request nobody took in time is dropped by the broker); an unbounded
call waits at most ``DEFAULT_TIMEOUT``. A request to a queue that
does not exist comes back (``mandatory``, confirmed) and raises ``Unavailable``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import aio_pika
import msgspec
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aio_pika.exceptions import DeliveryError

from kit_amqp.connection import open_connection, text_headers
from kit_amqp.errors import FAILURES, from_amqp
from kit_amqp.url import split
from kitcore.errors import DeadlineExceeded, Internal, Unavailable
from kitcore.messaging.rpc import ClientCodec, raise_for_reply, request_headers
from kitcore.service import ServiceSpec

DEFAULT_TIMEOUT = 30.0
"""Seconds an unbounded call waits for its reply."""

ClientBefore: TypeAlias = Callable[[dict[str, str]], None]
"""Edits the outgoing request's headers."""
ClientAfter: TypeAlias = Callable[[AbstractIncomingMessage], None]
"""Reads the reply message (headers) before it is decoded."""


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return (value,) if callable(value) else tuple(value)


class RpcChannel:
    """One channel with an exclusive reply queue, matching replies to calls by correlation id."""

    def __init__(self, connection: AbstractConnection) -> None:
        self.connection = connection
        self._channel: AbstractChannel | None = None
        self._replies: AbstractQueue | None = None
        self._waiting: dict[str, asyncio.Future[AbstractIncomingMessage]] = {}
        self._lock = asyncio.Lock()

    async def _open(self) -> tuple[AbstractChannel, AbstractQueue]:
        async with self._lock:
            if self._channel is None or self._channel.is_closed or self._replies is None:
                # Confirms are what makes the broker report an unroutable request
                # (aiormq routes returns through them): no such queue is Unavailable now,
                # not a timeout later.
                channel = await self.connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                replies = await channel.declare_queue(exclusive=True, auto_delete=True)
                await replies.consume(self._on_reply, no_ack=True)
                self._channel, self._replies = channel, replies
            return self._channel, self._replies

    async def _on_reply(self, msg: AbstractIncomingMessage) -> None:
        future = self._waiting.pop(msg.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def call(
        self, queue: str, body: bytes, headers: dict[str, str], left: float | None
    ) -> AbstractIncomingMessage:
        """Publish one request to ``queue`` and wait (at most ``left`` s) for its reply."""
        try:
            channel, replies = await self._open()
        except FAILURES as exc:
            raise from_amqp(exc, "open an AMQP channel") from exc
        wait = DEFAULT_TIMEOUT if left is None else left
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[AbstractIncomingMessage] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        try:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    headers=dict(headers),
                    correlation_id=correlation_id,
                    message_id=correlation_id,
                    reply_to=replies.name,
                    content_type="application/json",
                    expiration=wait,
                ),
                routing_key=queue,
                mandatory=True,
            )
            return await asyncio.wait_for(future, wait)
        except (TimeoutError, asyncio.TimeoutError):
            raise DeadlineExceeded(f"no reply from {queue} in time") from None
        except DeliveryError as exc:
            raise Unavailable(f"no queue {queue!r} took the request") from exc
        except FAILURES as exc:
            raise from_amqp(exc, f"request to {queue}") from exc
        finally:
            self._waiting.pop(correlation_id, None)

    async def close(self) -> None:
        """Close the channel (its reply queue goes with it)."""
        channel, self._channel, self._replies = self._channel, None, None
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(Unavailable("client closed"))
        self._waiting.clear()
        if channel is not None and not channel.is_closed:
            await channel.close()


class Publisher:
    """An Endpoint sending each request as ``method`` to one queue and decoding its reply."""

    def __init__(
        self,
        connection: AbstractConnection,
        queue: str,
        method: str,
        encode: Callable[[Any], bytes] | None = None,
        decode: Callable[[AbstractIncomingMessage], Any] | None = None,
        *,
        response_type: Any = Any,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        after: ClientAfter | Sequence[ClientAfter] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.queue = queue
        self.method = method
        self._rpc = RpcChannel(connection)
        self._encode = encode or msgspec.json.Encoder().encode
        if decode is None:
            decoder = msgspec.json.Decoder(response_type)

            def decode(msg: AbstractIncomingMessage) -> Any:
                return decoder.decode(msg.body)

        self._decode = decode
        self._before = _tuple(before)
        self._after = _tuple(after)
        self._timeout = timeout

    async def __call__(self, request: Any) -> Any:
        headers, left = request_headers(self.method, self._timeout)
        for before in self._before:
            before(headers)
        reply = await self._rpc.call(self.queue, self._encode(request), headers, left)
        for after in self._after:
            after(reply)
        raise_for_reply(text_headers(reply.headers), reply.body)
        try:
            return self._decode(reply)
        except msgspec.MsgspecError as exc:
            raise Internal(f"bad reply from {self.queue}: {exc}") from exc

    async def close(self) -> None:
        """Close the channel."""
        await self._rpc.close()


class ServiceClient:
    """The client Endpoint for a typed service at ``queue``: takes a ``kitcore.Call``.

    Connects on first use (inside the running loop); ``close()`` closes the connection.
    ``headers`` go with every request; ``before`` functions edit each request's headers
    (``kitcore.connect(..., before=...)``: the hook a tracer injects its context with).
    """

    def __init__(
        self,
        spec: ServiceSpec,
        broker: str,
        queue: str,
        *,
        timeout: float | None = None,
        connection: AbstractConnection | None = None,
        headers: Mapping[str, str] | None = None,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        **connect_options: Any,
    ) -> None:
        if not queue:
            raise ValueError(f"no queue in the target for {spec.name}: want amqp://host:port/queue")
        self.spec = spec
        self.broker = broker
        self.queue = queue
        self._codec = ClientCodec(spec)
        self._timeout = timeout
        self._headers = dict(headers or {})
        self._before = _tuple(before)
        self._connection = connection
        self._owned = connection is None
        self._connect_options = connect_options
        self._rpc: RpcChannel | None = None
        self._lock = asyncio.Lock()

    async def _channel(self) -> RpcChannel:
        async with self._lock:
            if self._rpc is None:
                if self._connection is None:
                    try:
                        self._connection = await open_connection(
                            self.broker, **self._connect_options
                        )
                    except FAILURES as exc:
                        raise from_amqp(exc, f"connect to {self.queue}") from exc
                self._rpc = RpcChannel(self._connection)
            return self._rpc

    async def __call__(self, call: Any) -> Any:
        name = call.method.name
        headers, left = request_headers(name, self._timeout)
        if self._headers:
            headers.update(self._headers)
        for edit in self._before:  # per call: where trace context is injected
            edit(headers)
        rpc = self._rpc or await self._channel()
        reply = await rpc.call(self.queue, msgspec.json.encode(call.request), headers, left)
        return self._codec.decode(name, text_headers(reply.headers), reply.body)

    async def close(self) -> None:
        """Close the channel, and the connection when this client opened it."""
        rpc, self._rpc = self._rpc, None
        if rpc is not None:
            await rpc.close()
        connection, self._connection = self._connection, None
        if connection is not None and self._owned and not connection.is_closed:
            await connection.close()


def client_factory(spec: ServiceSpec, instance: str, **options: Any) -> tuple[Any, Any]:
    """``kitcore.connect``'s factory: ``instance`` is ``user:pass@host:port/queue``."""
    broker, queue = split(instance)
    client = ServiceClient(spec, broker, queue, **options)
    return client, client.close
