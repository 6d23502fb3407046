"""The client side: endpoints that call a gRPC method, typed errors and deadlines included.

``ClientEndpoint`` is Go kit's ``grpctransport.NewClient``: one method path, an encode
function (request -> protobuf message), a decode function (reply message -> response), a
reply type, and options ``before(metadata)`` (edit the outgoing metadata list),
``after(header, trailer)`` (read the reply's metadata) and ``finalizer(code, seconds)``.
``ServiceClient`` is what ``kitcore.connect`` builds per instance of a typed service; its
``metadata`` is sent with every call and its ``before`` functions edit each call's
(``kitcore.connect(Service, "grpc://...", before=...)`` passes them through), e.g. to
inject the trace context. A streaming method's call returns its ``kitcore.stream.Stream``
(``kit_grpc.streaming``).

Both send the caller's remaining ``kitcore.context`` time as the gRPC deadline (capped by
``timeout``); a call whose deadline has passed is not sent. Cancelling the caller cancels
the RPC, and the server's handler with it. A failed call raises its typed error
(``kit_grpc.errors.from_rpc_error``): UNAVAILABLE (no connection) is ``Unavailable``,
which retries and breakers understand. One channel per instance, opened on first use
inside the running loop and closed by ``close()``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import grpc  # type: ignore[import-untyped]
from google.protobuf.message import Message  # type: ignore[import-untyped]

from kit_grpc.errors import from_rpc_error
from kit_grpc.options import Metadata
from kit_grpc.schema import DEFAULT_PACKAGE, MethodSchema, schema
from kit_grpc.streaming import open_stream
from kitcore import context
from kitcore.errors import DeadlineExceeded
from kitcore.service import ServiceSpec

MIB = 1024 * 1024
MAX_MESSAGE = 4 * MIB
"""Default largest message sent or received, in bytes (gRPC's own default receive limit)."""

ClientBefore: TypeAlias = Callable[[list[tuple[str, "str | bytes"]]], None]
"""Edits the outgoing metadata list before the call is sent."""
ClientAfter: TypeAlias = Callable[[Metadata, Metadata], None]
"""Reads the reply's header and trailer metadata."""
ClientFinalizer: TypeAlias = Callable[[grpc.StatusCode, float], None]
"""Sees every call's status code and duration in seconds."""


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return (value,) if callable(value) else tuple(value)


def channel_options(max_message: int = MAX_MESSAGE) -> list[tuple[str, Any]]:
    """grpc channel options bounding message sizes both ways."""
    return [
        ("grpc.max_send_message_length", max_message),
        ("grpc.max_receive_message_length", max_message),
    ]


def target_of(instance: str) -> str:
    """``host:port`` or ``grpc://host:port`` -> the grpc target ``host:port``."""
    return instance.split("://", 1)[1].rstrip("/") if "://" in instance else instance


class Channel:
    """One instance's channel, opened on first use (inside the running loop)."""

    def __init__(self, target: str | grpc.aio.Channel, *, max_message: int = MAX_MESSAGE) -> None:
        self._owned = isinstance(target, str)
        self._target = target_of(target) if isinstance(target, str) else ""
        self._channel: grpc.aio.Channel | None = None if isinstance(target, str) else target
        self._max_message = max_message

    @property
    def target(self) -> str:
        """The ``host:port`` this channel dials (empty for a channel given in)."""
        return self._target

    def get(self) -> grpc.aio.Channel:
        """The grpc.aio channel."""
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                self._target, options=channel_options(self._max_message)
            )
        return self._channel

    def unary(self, path: str) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
        """A bytes-in, bytes-out callable for the method ``path``."""
        return self.get().unary_unary(path, _registered_method=True)

    def stream(self, path: str) -> grpc.aio.UnaryStreamMultiCallable[bytes, bytes]:
        """A bytes-in, stream-of-bytes-out callable for the server-streaming method ``path``."""
        return self.get().unary_stream(path, _registered_method=True)

    async def close(self) -> None:
        """Close the channel (only one this object opened)."""
        channel, self._channel = self._channel, None
        if self._owned and channel is not None:
            await channel.close()


def call_timeout(cap: float | None) -> float | None:
    """The gRPC timeout for a call now: the caller's remaining time capped at ``cap``.

    Raises DeadlineExceeded when the caller's deadline has already passed.
    """
    left = context.remaining()
    if cap is not None and (left is None or cap < left):
        left = cap
    elif left is not None and left <= 0:
        raise DeadlineExceeded("deadline exceeded before the call was sent")
    if left is not None:
        # grpc rounds the timeout it sends up (to 100 ms steps for long ones) and the
        # server's clock ticks coarsely: measured, a hop sees up to 100 ms more than its
        # caller had. Rounding down to a step above that error keeps every hop's deadline
        # at or before its caller's.
        step = 0.1 if left > 1.0 else 0.01 if left > 0.05 else 0.001
        left = max(math.floor(left / step) * step, 0.001)
    return left


class ClientEndpoint:
    """An Endpoint calling one gRPC method: Go kit's ``grpctransport.Client``."""

    def __init__(
        self,
        channel: str | grpc.aio.Channel,
        path: str,
        encode: Callable[[Any], Message],
        decode: Callable[[Any], Any],
        reply_type: type[Message],
        *,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        after: ClientAfter | Sequence[ClientAfter] | None = None,
        finalizer: ClientFinalizer | Sequence[ClientFinalizer] | None = None,
        timeout: float | None = None,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self.path = path if path.startswith("/") else f"/{path}"
        self._channel = Channel(channel, max_message=max_message)
        self._encode = encode
        self._decode = decode
        self._parse = reply_type.FromString
        self._before = _tuple(before)
        self._after = _tuple(after)
        self._finalizer = _tuple(finalizer)
        self._timeout = timeout
        self._call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] | None = None

    async def __call__(self, request: Any) -> Any:
        if self._call is None:
            self._call = self._channel.unary(self.path)
        timeout = call_timeout(self._timeout)
        data = self._encode(request).SerializeToString()
        metadata: list[tuple[str, str | bytes]] = []
        for before in self._before:
            before(metadata)
        start = time.perf_counter()
        code = grpc.StatusCode.UNKNOWN
        try:
            call = self._call(data, timeout=timeout, metadata=metadata or None)
            try:
                reply = await call
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                raise from_rpc_error(exc) from None
            code = grpc.StatusCode.OK
            if self._after:
                header = await call.initial_metadata()
                trailer = await call.trailing_metadata()
                for after in self._after:
                    after(tuple(header or ()), tuple(trailer or ()))
            return self._decode(self._parse(reply))
        finally:
            if self._finalizer:
                seconds = time.perf_counter() - start
                for finalizer in self._finalizer:
                    finalizer(code, seconds)

    async def close(self) -> None:
        """Close the channel, when this endpoint opened it."""
        await self._channel.close()


class ServiceClient:
    """The client Endpoint for one instance of a typed service: takes a ``kitcore.Call``."""

    def __init__(
        self,
        spec: ServiceSpec,
        instance: str | grpc.aio.Channel,
        *,
        package: str = DEFAULT_PACKAGE,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str | bytes]] | None = None,
        before: ClientBefore | Sequence[ClientBefore] | None = None,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self.spec = spec
        self._schema = schema(spec, package)
        self._channel = Channel(instance, max_message=max_message)
        self._timeout = timeout
        self._metadata = tuple(metadata) if metadata else None
        self._before = _tuple(before)
        self._calls: dict[str, tuple[MethodSchema, Any]] = {}

    def _method(self, name: str) -> tuple[MethodSchema, Any]:
        # The channel's callables are made on first use, inside the running loop.
        for n, m in self._schema.methods.items():
            opener = self._channel.stream if m.method.streaming else self._channel.unary
            self._calls[n] = (m, opener(m.path))
        return self._calls[name]

    async def __call__(self, call: Any) -> Any:
        m, unary = self._calls.get(call.method.name) or self._method(call.method.name)
        timeout = call_timeout(self._timeout)
        data = m.encode_request(call.request)
        metadata: Sequence[tuple[str, str | bytes]] | None = self._metadata
        if self._before:
            edited = list(metadata or ())
            for before in self._before:
                before(edited)
            metadata = edited or None
        if m.method.streaming:
            return await open_stream(unary, m, data, timeout=timeout, metadata=metadata)
        try:
            reply = await unary(data, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return m.decode_response(reply)

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()


def client_factory(spec: ServiceSpec, instance: str, **options: Any) -> tuple[Any, Any]:
    """The ``grpc`` transport's factory: ``(ServiceClient, its close)`` for one instance."""
    endpoint = ServiceClient(spec, instance, **options)
    return endpoint, endpoint.close


__all__ = [
    "MAX_MESSAGE",
    "Channel",
    "ClientAfter",
    "ClientBefore",
    "ClientEndpoint",
    "ClientFinalizer",
    "ServiceClient",
    "call_timeout",
    "channel_options",
    "client_factory",
]
