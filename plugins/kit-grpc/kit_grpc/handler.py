"""Handler: one gRPC method's serving logic: decode, call the endpoint, encode, or abort typed.

The same Handler serves Go kit style methods (your own decode/encode functions over
protobuf messages) and the methods of a typed service (messages derived from the
signatures): both reduce to ``bytes -> request`` and ``response -> bytes``, so grpc.aio is
given no (de)serializer and every decoding failure stays in kit's hands, where it becomes
INVALID_ARGUMENT instead of grpc's INTERNAL.

The caller's gRPC deadline becomes the ``kitcore.context`` deadline for the call (capped
by the ``timeout`` option); when the caller cancels, grpc.aio cancels the handler's task,
so the endpoint and any call it has in flight stop as well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc  # type: ignore[import-untyped]

from kit_grpc.errors import status_code, trailer, wire_error
from kit_grpc.options import Metadata, Outgoing, ServerOptions
from kitcore import context
from kitcore.endpoint import Endpoint
from kitcore.errors import KitError

_log = logging.getLogger("kit_grpc")

DEADLINE_SLACK = 0.05
"""Seconds before its deadline within which a cancelled call is reported as timed out."""


class Handler:
    """Serves one method: an endpoint, how to decode its request bytes and encode its reply."""

    def __init__(
        self,
        endpoint: Endpoint,
        decode: Callable[[bytes], Any],
        encode: Callable[[Any], bytes],
        options: ServerOptions | None = None,
        *,
        name: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.decode = decode
        self.encode = encode
        self.options = options or ServerOptions()
        self.name = name
        self.timeout = self.options.timeout
        self.serve: Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Any]
        self.serve = self._serve if self.options.plain else self._serve_options

    def method_handler(self) -> grpc.RpcMethodHandler:
        """The grpc unary-unary method handler (bytes in, bytes out)."""
        return grpc.unary_unary_rpc_method_handler(self.serve)

    async def _serve(self, data: bytes, ctx: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        try:
            request = self.decode(data)
            left = ctx.time_remaining()
            if left is None and self.timeout is None:
                return self.encode(await self.endpoint(request))
            return self.encode(await self._bounded(request, left))
        except Exception as exc:
            error = exc
        await self._abort(ctx, error)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    def _seconds(self, left: float | None) -> float | None:
        """The call's time: what the caller's deadline leaves, capped by ``timeout``."""
        if left is None:
            return self.timeout
        return left if self.timeout is None else min(left, self.timeout)

    def _bound_values(self, metadata: Metadata) -> dict[str, Any]:
        """What the ``before`` options read off the incoming metadata, to bind in the context."""
        values: dict[str, Any] = {}
        for before in self.options.before:
            found = before(metadata)
            if found:
                values.update(found)
        return values

    async def _send_header(self, ctx: grpc.aio.ServicerContext[Any, Any]) -> Outgoing | None:
        """Run the ``after`` options and send the header they set; their trailer is kept."""
        if not self.options.after:
            return None
        outgoing = Outgoing()
        for after in self.options.after:
            after(outgoing)
        if outgoing.header:
            await ctx.send_initial_metadata(outgoing.header)
        return outgoing

    def _finalize(
        self,
        metadata: Metadata,
        code: grpc.StatusCode,
        seconds: float,
        ctx: grpc.aio.ServicerContext[Any, Any],
    ) -> None:
        if code is grpc.StatusCode.CANCELLED:
            left = ctx.time_remaining()
            if left is not None and left <= DEADLINE_SLACK:
                # The deadline, not a caller who left: grpc cancels the handler when the
                # deadline passes, sometimes before kit's own timer fires; and the
                # caller's clock runs out first (it started before the request crossed
                # the wire), so its cancel can arrive a few ms ahead of ours.
                code = grpc.StatusCode.DEADLINE_EXCEEDED
        for finalizer in self.options.finalizer:
            try:
                finalizer(metadata, code, seconds)
            except Exception:
                _log.exception("kit-grpc finalizer failed for %s", self.name)

    def _bounded(self, request: Any, left: float | None) -> Awaitable[Any]:
        return context.within(self._seconds(left), self.endpoint(request))

    async def _serve_options(self, data: bytes, ctx: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        metadata = tuple(ctx.invocation_metadata() or ())
        start = time.perf_counter()
        code = grpc.StatusCode.CANCELLED  # no answer was sent: the caller went away
        try:
            try:
                with context.bind(**self._bound_values(metadata)):
                    reply = await self._serve_inner(data, ctx)
                code = grpc.StatusCode.OK
                return reply
            except Exception as exc:
                error = exc
            kit_error = wire_error(error)
            code = status_code(kit_error)
            await self._abort(ctx, error)
            raise AssertionError("unreachable: abort raises")  # pragma: no cover
        finally:
            self._finalize(metadata, code, time.perf_counter() - start, ctx)

    async def _serve_inner(self, data: bytes, ctx: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        request = self.decode(data)
        reply = self.encode(await self._bounded(request, ctx.time_remaining()))
        outgoing = await self._send_header(ctx)
        if outgoing is not None and outgoing.trailer:
            ctx.set_trailing_metadata(outgoing.trailer)
        return reply

    async def _abort(self, ctx: grpc.aio.ServicerContext[Any, Any], error: BaseException) -> None:
        handler = self.options.error_handler
        if handler is not None:
            try:
                handler(error)
            except Exception:
                _log.exception("kit-grpc error handler failed for %s", self.name)
        elif not isinstance(error, KitError):
            _log.error("unexpected error serving %s", self.name, exc_info=error)
        kit_error = wire_error(error)
        await ctx.abort(status_code(kit_error), kit_error.message, trailer(kit_error))


def register(server: grpc.aio.Server, service: str, handlers: dict[str, Handler]) -> None:
    """Add ``handlers`` (by method name) to ``server`` as the gRPC service ``service``."""
    method_handlers = {name: h.method_handler() for name, h in handlers.items()}
    # As generated code does: the generic handler routes any path; the registered one,
    # preferred by grpcio >= 1.62, is matched in the C core without a Python lookup.
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, method_handlers),)
    )
    add_registered = getattr(server, "add_registered_method_handlers", None)
    if add_registered is not None:
        add_registered(service, method_handlers)
